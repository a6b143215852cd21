// The JSON log lines etcdctl 3.5 writes to stderr through zap (its default production
// config): level, ts ("2006-01-02T15:04:05.000000Z0700" in local time), logger (when
// named), caller, msg, then the fields in order. Used for progress messages of
// long-running commands (snapshot save); scripts read stdout, people read these.
import { goJsonString } from './gofmt.js';

/** Go's "2006-01-02T15:04:05.000000Z0700" for a local time (microseconds from ms). */
export function zapTime(d: Date = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` +
    `.${p(d.getMilliseconds(), 3)}000${zone}`
  );
}

export type ZapField = [string, string | number | boolean];

/** One info-level line, newline-terminated. */
export function zapInfo(msg: string, fields: ZapField[], where: { caller: string; logger?: string }, now: Date = new Date()): string {
  return zapLine('info', msg, fields, where, now);
}

export function zapLine(level: string, msg: string, fields: ZapField[], where: { caller: string; logger?: string }, now: Date = new Date()): string {
  let out = `{"level":${goJsonString(level)},"ts":${goJsonString(zapTime(now))}`;
  if (where.logger !== undefined) out += `,"logger":${goJsonString(where.logger)}`;
  out += `,"caller":${goJsonString(where.caller)},"msg":${goJsonString(msg)}`;
  for (const [k, v] of fields) out += `,${goJsonString(k)}:${typeof v === 'string' ? goJsonString(v) : String(v)}`;
  return out + '}\n';
}
