// A small reader/runner for transcript files, in the spirit of cockroachdb's
// datadriven package (which etcd-io/raft's tests use):
//
//   # comments and blank lines are kept as they are
//   command arg key=value key=(a,b,c)
//   optional input lines
//   ----
//   expected output, up to the next blank line
//
// With rewrite on, the file is written back with the actual outputs.
import { readFileSync, writeFileSync } from 'node:fs';

export interface CmdArg {
  key: string;
  /** values: `key=v` gives [v], `key=(a,b)` gives [a, b], a bare word gives [] */
  vals: string[];
}

export interface TestCase {
  /** 1-based line of the command */
  line: number;
  cmd: string;
  args: CmdArg[];
  input: string[];
  expected: string;
}

type Chunk = { kind: 'verbatim'; text: string } | { kind: 'case'; tc: TestCase; header: string[] };

export function parseArgs(line: string): { cmd: string; args: CmdArg[] } {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of line.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ' ' && depth === 0) {
      if (cur) tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) tokens.push(cur);
  const [cmd, ...rest] = tokens;
  const args = rest.map((t): CmdArg => {
    const eq = t.indexOf('=');
    if (eq < 0) return { key: t, vals: [] };
    const key = t.slice(0, eq);
    let v = t.slice(eq + 1);
    if (v.startsWith('(') && v.endsWith(')')) {
      v = v.slice(1, -1).trim();
      return { key, vals: v === '' ? [] : v.split(',').map((s) => s.trim()) };
    }
    return { key, vals: [v] };
  });
  return { cmd: cmd ?? '', args };
}

function parse(path: string, text: string): Chunk[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const chunks: Chunk[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.trim() === '' || l.startsWith('#')) {
      chunks.push({ kind: 'verbatim', text: l });
      i++;
      continue;
    }
    const start = i;
    const header = [l];
    i++;
    const input: string[] = [];
    while (i < lines.length && lines[i] !== '----') {
      if (lines[i]!.trim() === '') throw new Error(`${path}:${start + 1}: missing ---- after command`);
      input.push(lines[i]!);
      header.push(lines[i]!);
      i++;
    }
    if (i >= lines.length) throw new Error(`${path}:${start + 1}: missing ---- after command`);
    i++; // ----
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    const { cmd, args } = parseArgs(l);
    chunks.push({ kind: 'case', header, tc: { line: start + 1, cmd, args, input, expected: out.join('\n') } });
  }
  return chunks;
}

export interface RunResult {
  failures: string[];
}

/**
 * Runs every case in the file through `run`, comparing with the expected output.
 * With rewrite, rewrites the file with the actual outputs and reports no failures.
 */
export function runFile(path: string, run: (tc: TestCase) => string, rewrite: boolean): RunResult {
  const chunks = parse(path, readFileSync(path, 'utf8'));
  const failures: string[] = [];
  const out: string[] = [];
  for (const c of chunks) {
    if (c.kind === 'verbatim') {
      out.push(c.text);
      continue;
    }
    let actual: string;
    try {
      actual = run(c.tc).replace(/\n+$/, '');
    } catch (err) {
      actual = `panic: ${(err as Error).stack ?? String(err)}`;
    }
    if (actual === '') actual = 'ok';
    if (actual.split('\n').some((l) => l.trim() === '')) throw new Error(`${path}:${c.tc.line}: output has a blank line`);
    out.push(...c.header, '----', actual);
    if (!rewrite && actual !== c.tc.expected) {
      failures.push(`${path}:${c.tc.line}: ${c.header[0]}\nexpected:\n${c.tc.expected}\nactual:\n${actual}`);
    }
  }
  if (rewrite) writeFileSync(path, out.join('\n') + '\n');
  return { failures };
}
