#!/usr/bin/env node
// Assembles a release of tsetcd for hosts without Node.js: after `npm run build`,
//
//   node tools/release.mjs [--out DIR] [--no-node] [--tar]
//
// writes DIR/tsetcd-<version>-linux-<arch>/ with
//   bin/tsetcd, bin/tsetcdctl, bin/tsetcdutl   shell wrappers that run the bundled Node.js
//   node/bin/node                              this machine's Node.js binary (unless --no-node)
//   lib/tsetcd/                                the package: package.json, bin/, dist/src/,
//                                              deploy/ and its production node_modules
// and, with --tar, DIR/tsetcd-<version>-linux-<arch>.tar.gz next to it. Unpack it
// anywhere (e.g. /opt) and put its bin/ on the PATH, or point tsetcdutl deploy's
// install.sh at it with TSETCD_HOME. Only what the programs load is copied: the
// dependencies `npm ls --omit=dev` lists, as they are installed in node_modules.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const outIdx = args.indexOf('--out');
const outDir = path.resolve(outIdx >= 0 ? args[outIdx + 1] : path.join(repo, 'release'));
for (const a of args) {
  if (a.startsWith('--') && !['--out', '--no-node', '--tar'].includes(a)) {
    console.error(`release: unknown option ${a} (use --out DIR, --no-node, --tar)`);
    process.exit(2);
  }
}

const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
if (!fs.existsSync(path.join(repo, 'dist/src/cli/tsetcd.js'))) {
  console.error('release: dist/ is missing; run npm run build first');
  process.exit(1);
}
const name = `tsetcd-${pkg.version}-linux-${process.arch}`;
const root = path.join(outDir, name);
const lib = path.join(root, 'lib', 'tsetcd');
fs.rmSync(root, { recursive: true, force: true });
fs.mkdirSync(lib, { recursive: true });

for (const part of ['package.json', 'README.md', 'bin', 'dist/src', 'deploy']) {
  if (fs.existsSync(path.join(repo, part))) fs.cpSync(path.join(repo, part), path.join(lib, part), { recursive: true, filter: (src) => !src.endsWith('.map') });
}

// production dependencies, from wherever node_modules really lives (it may be a symlink)
const modulesRoot = fs.realpathSync(path.join(repo, 'node_modules'));
const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo, encoding: 'utf8' })
  .split('\n')
  .filter((p) => p.includes(`${path.sep}node_modules${path.sep}`));
for (const dir of new Set(listed)) {
  const rel = path.relative(modulesRoot, fs.realpathSync(dir));
  if (rel.startsWith('..')) continue;
  const dest = path.join(lib, 'node_modules', rel);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  // nested node_modules are copied as their own entries
  fs.cpSync(dir, dest, { recursive: true, filter: (src) => path.relative(dir, src).split(path.sep)[0] !== 'node_modules' });
}

fs.mkdirSync(path.join(root, 'bin'));
const withNode = !flag('--no-node');
if (withNode) {
  fs.mkdirSync(path.join(root, 'node', 'bin'), { recursive: true });
  fs.copyFileSync(process.execPath, path.join(root, 'node', 'bin', 'node'));
  fs.chmodSync(path.join(root, 'node', 'bin', 'node'), 0o755);
}
for (const b of Object.keys(pkg.bin)) {
  const node = withNode ? '"$root/node/bin/node"' : 'node';
  const text = `#!/bin/sh\n# ${b} from the ${name} release\nroot=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)\nexec ${node} "$root/lib/tsetcd/bin/${b}" "$@"\n`;
  fs.writeFileSync(path.join(root, 'bin', b), text, { mode: 0o755 });
}
console.error(`release: wrote ${root}${withNode ? ` (with Node.js ${process.version})` : ''}`);

if (flag('--tar')) {
  const tarball = path.join(outDir, `${name}.tar.gz`);
  execFileSync('tar', ['-C', outDir, '-czf', tarball, name]);
  console.error(`release: wrote ${tarball}`);
}
console.log(root);
