// tsetcdutl migrate --data-dir --target-version [--force]: etcdutl's storage-version
// migration, for a tsetcd data dir.
//
// etcd 3.6 records a storage version (meta/storageVersion) and rewrites a few backend
// keys between 3.5 and 3.6. tsetcd's storage has one format that etcd 3.5 and 3.6 both
// read through snapshots, and it records no storage version. So the versions etcd's
// migrate accepts (3.5 and 3.6) are accepted and leave the data dir as it is (logged as
// etcdutl logs a data dir already at the target); the ones it refuses are refused with
// its messages and exit codes: a malformed or pre-3.5 version exits 128 before anything
// is opened, a version past 3.6 exits 1 ("cannot create migration plan"). --force only
// matters when a migration fails, which none here does.
import fs from 'node:fs';
import path from 'node:path';
import { fileKind } from '../../backend/file-kind.js';
import type { RunContext } from '../ctl/cmdtree.js';
import { rfc3339Local } from '../ctl/gofmt.js';
import { CtlExit, ExitCode, type Io } from '../ctl/io.js';

/** The storage versions etcd's migrate knows: 3.5 (no version recorded) and 3.6. */
const KNOWN_MINORS = [5, 6];

interface Target {
  major: number;
  minor: number;
}

/** Parses "X.Y" as etcdutl does (semver "X.Y.0"); errors are etcdutl's, exit 128. */
export function parseTargetVersion(text: string): Target {
  if ((text.match(/\./g) ?? []).length !== 1) throw new CtlExit(ExitCode.BadArgs, `wrong target version format, expected "X.Y", got ${JSON.stringify(text)}`);
  const m = /^(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(text);
  if (!m) throw new CtlExit(ExitCode.BadArgs, `failed to parse target version: ${goSemverError(text + '.0')}`);
  const t = { major: Number(m[1]), minor: Number(m[2]) };
  if (t.major < 3 || (t.major === 3 && t.minor < 5)) throw new CtlExit(ExitCode.BadArgs, `target version "${t.major}.${t.minor}" not supported. Minimal "3.5"`);
  return t;
}

/** go-semver's complaint about a version string it cannot read. */
function goSemverError(v: string): string {
  const parts = v.split('.');
  const bad = parts.find((p) => !/^\d+$/.test(p));
  if (bad !== undefined) return `strconv.ParseInt: parsing ${JSON.stringify(bad)}: invalid syntax`;
  return `${v} is not in dotted-tri format`;
}

function logLine(io: Io, level: string, msg: string, fields: Record<string, string>): void {
  const json = Object.entries(fields)
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ');
  io.err(`${rfc3339Local()}\t${level}\tutl/migrate.ts\t${msg}${json ? `\t{${json}}` : ''}\n`);
}

/** Refuses a data dir that is not a tsetcd member's (missing, etcd's, empty). */
function checkDataDir(dataDir: string): void {
  const db = path.join(dataDir, 'member', 'snap', 'db');
  const wal = path.join(dataDir, 'member', 'wal');
  const kind = fileKind(db);
  if (kind === 'missing' || !fs.existsSync(wal)) throw new CtlExit(ExitCode.BadArgs, `failed to get the lastest snapshot: open ${wal}: no such file or directory`);
  if (kind === 'bbolt') throw new CtlExit(ExitCode.Error, `${db} is an etcd (bbolt) backend; run etcdutl migrate on etcd's data dirs`);
  if (kind !== 'lmdb') throw new CtlExit(ExitCode.Error, `cannot detect storage schema version: ${db} is not a tsetcd backend (${kind})`);
}

export async function migrateCommand(ctx: RunContext): Promise<void> {
  const target = parseTargetVersion(ctx.flags.get('target-version').string);
  const dataDir = ctx.flags.get('data-dir').string;
  checkDataDir(dataDir);
  const version = `${target.major}.${target.minor}`;
  if (target.major !== 3) throw new CtlExit(ExitCode.Error, 'cannot create migration plan: changing major storage version is not supported');
  if (!KNOWN_MINORS.includes(target.minor)) throw new CtlExit(ExitCode.Error, `cannot create migration plan: version "3.${KNOWN_MINORS[KNOWN_MINORS.length - 1]! + 1}.0" is not supported`);
  logLine(ctx.io, 'info', 'storage version up-to-date', { 'storage-version': version });
}
