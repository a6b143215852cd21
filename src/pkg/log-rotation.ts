// --enable-log-rotation: the log file is rotated as etcd's lumberjack sink rotates it.
//
// Contract (lumberjack's, which etcd 3.5 configures from --log-rotation-config-json):
//  - a write that would take the file past maxsize MB first renames it to
//    <name>-<UTC time 2006-01-02T15-04-05.000>.<ext> (local time with localtime) and
//    starts a new file; a single line larger than maxsize goes into a fresh file whole;
//  - then old backups are removed: beyond maxbackups (0: keep all) and older than
//    maxage days (0: keep all); with compress, backups are gzipped (<backup>.gz).
// Everything is synchronous, like the logger's writes, so a line before a crash is kept.
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface LogRotationConfig {
  maxsize: number;
  maxage: number;
  maxbackups: number;
  localtime: boolean;
  compress: boolean;
}

const MB = 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;

/** etcd's checks on --log-rotation-config-json; returns the config or etcd's error text. */
export function parseRotationConfig(json: string): LogRotationConfig | string {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return `improperly formatted log rotation config: ${(err as Error).message}`;
  }
  const cfg: LogRotationConfig = { maxsize: 0, maxage: 0, maxbackups: 0, localtime: false, compress: false };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `invalid log rotation config: json: cannot unmarshal ${Array.isArray(raw) ? 'array' : typeof raw} into Go value of type embed.logRotationConfig`;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const k = key.toLowerCase() as keyof LogRotationConfig;
    if (!(k in cfg)) continue;
    const wantBool = k === 'localtime' || k === 'compress';
    if (wantBool ? typeof value !== 'boolean' : !Number.isInteger(value)) {
      return `invalid log rotation config: json: cannot unmarshal ${typeof value} into Go struct field logRotationConfig.${k} of type ${wantBool ? 'bool' : 'int'}`;
    }
    (cfg as unknown as Record<string, unknown>)[k] = value;
  }
  return cfg;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** lumberjack's backup time stamp. */
export function backupStamp(d: Date, localTime: boolean): string {
  const [y, mo, da, h, mi, s, ms] = localTime
    ? [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]
    : [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()];
  return `${y}-${pad(mo)}-${pad(da)}T${pad(h)}-${pad(mi)}-${pad(s)}.${pad(ms, 3)}`;
}

export class RotatingFile {
  private fd: number;
  private sizeBytes: number;
  private readonly dir: string;
  private readonly prefix: string;
  private readonly ext: string;

  constructor(
    readonly file: string,
    private readonly cfg: LogRotationConfig,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.fd = fs.openSync(file, 'a', 0o600);
    this.sizeBytes = fs.fstatSync(this.fd).size;
    this.dir = path.dirname(file);
    this.ext = path.extname(file);
    this.prefix = path.basename(file, this.ext) + '-';
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    const limit = this.cfg.maxsize * MB;
    if (limit > 0 && this.sizeBytes > 0 && this.sizeBytes + bytes > limit) this.rotate();
    fs.writeSync(this.fd, line);
    this.sizeBytes += bytes;
  }

  private rotate(): void {
    fs.closeSync(this.fd);
    const backup = path.join(this.dir, `${this.prefix}${backupStamp(this.now(), this.cfg.localtime)}${this.ext}`);
    fs.renameSync(this.file, backup);
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.sizeBytes = 0;
    if (this.cfg.compress) {
      fs.writeFileSync(backup + '.gz', gzipSync(fs.readFileSync(backup)), { mode: 0o600 });
      fs.rmSync(backup);
    }
    this.prune();
  }

  /** Backups, newest first (their names sort by time). */
  backups(): string[] {
    return fs
      .readdirSync(this.dir)
      .filter((n) => n.startsWith(this.prefix) && (n.endsWith(this.ext) || n.endsWith(this.ext + '.gz')) && n !== path.basename(this.file))
      .sort()
      .reverse()
      .map((n) => path.join(this.dir, n));
  }

  private prune(): void {
    const all = this.backups();
    const cutoffMs = this.now().getTime() - this.cfg.maxage * DAY_MS;
    all.forEach((file, i) => {
      const tooMany = this.cfg.maxbackups > 0 && i >= this.cfg.maxbackups;
      const tooOld = this.cfg.maxage > 0 && fs.statSync(file).mtimeMs < cutoffMs;
      if (tooMany || tooOld) fs.rmSync(file, { force: true });
    });
  }
}
