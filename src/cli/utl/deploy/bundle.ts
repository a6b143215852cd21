// A generated deployment is a set of files (path relative to --out → text and mode),
// built in memory by a target and written at the end, so a target is a pure function
// of the spec and easy to test. Also the locations of the files shipped in deploy/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BundleFile {
  text: string;
  mode?: number;
}

export type Bundle = Map<string, BundleFile>;

const here = path.dirname(fileURLToPath(import.meta.url));
/** the package root: dist/src/cli/utl/deploy → five levels up */
export const PACKAGE_ROOT = path.resolve(here, '..', '..', '..', '..', '..');
export const SHIPPED_DIR = path.join(PACKAGE_ROOT, 'deploy');

export function shipped(rel: string): string {
  const file = path.join(SHIPPED_DIR, rel);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`the package is missing ${file} (${(err as NodeJS.ErrnoException).code}); reinstall tsetcd`);
  }
}

/** Every file under a shipped folder, relative to it. */
export function shippedTree(rel: string): string[] {
  const root = path.join(SHIPPED_DIR, rel);
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else out.push(path.relative(root, full));
    }
  };
  walk(root);
  return out.sort();
}

export function writeBundle(outDir: string, bundle: Bundle): void {
  for (const [rel, f] of bundle) {
    const file = path.join(outDir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, f.text, { mode: f.mode ?? 0o644 });
    if (f.mode !== undefined) fs.chmodSync(file, f.mode);
  }
}

/** Single-quotes for POSIX sh when needed. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:,@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
