// Bundles tsetcdctl (dist/src/cli/tsetcdctl.js and what it imports) into a few files in
// dist/src/cli/ctl-bundle/, which bin/tsetcdctl loads: Node resolves and compiles ~80
// small modules on every start otherwise, a good part of a command's time on a busy
// machine (scripts and etcd's e2e tests run tsetcdctl hundreds of times). Packages stay
// external (native ones among them), and the modules tsetcdctl loads only for its
// offline commands (snapshot restore/status, defrag --data-dir: the storage engine and a
// worker thread found by its URL) stay where tsc wrote them. Runs as part of `npm run build`.
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
  entryPoints: { tsetcdctl: path.join(root, 'dist/src/cli/tsetcdctl.js') },
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
