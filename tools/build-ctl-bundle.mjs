// Bundles tsetcdctl (dist/src/cli/tsetcdctl.js and what it imports) and `tsetcdutl pki`
// into a few files in dist/src/cli/ctl-bundle/, which bin/tsetcdctl and bin/tsetcdutl
// load: Node resolves and compiles ~80 small modules on every start otherwise, a good part
// of a command's time on a busy machine (scripts and etcd's e2e tests run tsetcdctl
// hundreds of times; a cfssl pipeline starts two processes per certificate). Packages
// stay external (native ones among them), and the storage side, which tsetcdctl loads only
// for its offline commands (snapshot restore/status, defrag --data-dir: LMDB and a worker
// thread found by its URL), stays where tsc wrote it. Runs as part of `npm run build`.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/src/cli/ctl-bundle');
/**
 * The storage side (LMDB, bbolt and WAL readers, snapshot restore with its worker thread
 * found by URL): tsetcdctl needs it only for offline commands (snapshot restore/status,
 * defrag --data-dir) and loads it on use; it stays in dist as tsc wrote it. A module is
 * either bundled or external for every importer, so no class exists twice.
 */
const STORAGE = /\/dist\/src\/(backend|bbolt|etcdwal|wal|snapshot|server|raft|config|mvcc)\//;

const keepStorageOut = {
  name: 'keep-storage-out',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      const target = path.resolve(args.resolveDir, args.path);
      if (!STORAGE.test(target)) return undefined;
      return { path: './' + path.relative(outdir, target).split(path.sep).join('/'), external: true };
    });
  },
};

// chunk names carry content hashes: old ones would pile up
fs.rmSync(outdir, { recursive: true, force: true });

await build({
  // tsetcdctl, and tsetcdutl's pki half (cfssl's commands: one process per pipeline step)
  entryPoints: { tsetcdctl: path.join(root, 'dist/src/cli/tsetcdctl.js'), pki: path.join(root, 'dist/src/cli/utl/pki.js') },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  packages: 'external',
  plugins: [keepStorageOut],
  logLevel: 'warning',
});
