// A small structured logger that prints zap-shaped JSON lines, as etcd's --logger=zap
// does, so log pipelines built for etcd keep parsing our output.
import { writeSync, openSync } from 'node:fs';
import { RotatingFile, type LogRotationConfig } from './log-rotation.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';
const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, panic: 4, fatal: 5 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** logs at fatal level; the caller decides how to exit */
  fatal(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** 'stderr', 'stdout', 'default' (stderr) or file paths, as --log-outputs takes them */
  outputs?: string[];
  /** --enable-log-rotation: the file output is rotated with these settings */
  rotation?: LogRotationConfig;
}

/** Where log lines go: a file descriptor, or a rotating file. */
type Sink = number | RotatingFile;

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return v.message;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return v;
}

class JsonLogger implements Logger {
  constructor(
    private readonly minRank: number,
    private readonly fds: Sink[],
    private readonly base: LogFields,
  ) {}

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (levelRank[level] < this.minRank) return;
    const record: Record<string, unknown> = { level, ts: new Date().toISOString(), msg };
    for (const [k, v] of Object.entries(this.base)) record[k] = jsonValue(v);
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = jsonValue(v);
    const line = JSON.stringify(record) + '\n';
    // Synchronous on purpose: a log line written just before a crash must not be lost.
    for (const fd of this.fds) {
      try {
        if (typeof fd === 'number') writeSync(fd, line);
        else fd.write(line);
      } catch {
        /* a closed output must not take the member down */
      }
    }
  }

  debug(msg: string, fields?: LogFields): void { this.write('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.write('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.write('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.write('error', msg, fields); }
  fatal(msg: string, fields?: LogFields): void { this.write('fatal', msg, fields); }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.minRank, this.fds, { ...this.base, ...fields });
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const outputs = opts.outputs && opts.outputs.length > 0 ? opts.outputs : ['default'];
  const fds = outputs.map((o): Sink => {
    if (o === 'stderr' || o === 'default') return 2;
    if (o === 'stdout') return 1;
    return opts.rotation ? new RotatingFile(o, opts.rotation) : openSync(o, 'a', 0o600);
  });
  return new JsonLogger(levelRank[opts.level ?? 'info'], fds, {});
}

/** A logger that drops everything: for tests and tools that must stay quiet. */
export function silentLogger(): Logger {
  return new JsonLogger(Number.POSITIVE_INFINITY, [], {});
}
