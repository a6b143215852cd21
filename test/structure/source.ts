// Reads the TypeScript sources under src/ for the structure tests: every file with its
// path relative to the repository and its text.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** the repository: tests run from dist/test/structure/ */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface SourceFile {
  /** e.g. src/server/server.ts */
  rel: string;
  text: string;
}

export function sourceFiles(under = 'src'): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (/\.tsx?$/.test(e.name)) out.push({ rel, text: fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8') });
    }
  };
  walk(under);
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

/** The modules a file imports (static imports and exports, resolved to repository paths; packages left out). */
export function importsOf(file: SourceFile): string[] {
  const specs = [...file.text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file.rel), s)).replace(/\.js$/, '.ts'));
}
