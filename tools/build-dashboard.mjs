// Bundles the dashboard UI (src/dashboard/ui) into dist/dashboard-ui: app.js, app.css
// and index.html, which the member serves as they are. Runs as part of `npm run build`.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src/dashboard/ui');
const out = path.join(root, 'dist/dashboard-ui');

await build({
  entryPoints: { app: path.join(src, 'main.jsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  logLevel: 'warning',
  legalComments: 'linked',
});
fs.copyFileSync(path.join(src, 'index.html'), path.join(out, 'index.html'));
