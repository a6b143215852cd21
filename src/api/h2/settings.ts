// The server's own HTTP/2 settings: defaults, validation, and the SETTINGS frame that
// opens every connection.
//
// Contract: resolveSettings() returns a complete, checked copy (a RangeError names the
// first value out of range); prefaceEntries() lists what our first SETTINGS announces.

import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, MAX_ALLOWED_FRAME_SIZE, MAX_WINDOW_SIZE, SettingId } from './frames.js';
import { PREFACE_TIMEOUT_MS } from './guards.js';
import type { H2Settings } from './types.js';

const DEFAULTS: Required<H2Settings> = {
  maxConcurrentStreams: 1000,
  initialWindowSize: 1 << 20,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  maxHeaderListSize: 1 << 20,
  connectionWindowSize: 8 << 20,
  keepaliveMinTimeMs: 0,
  keepaliveIntervalMs: 0,
  keepaliveTimeoutMs: 20_000,
  idleTimeoutMs: 0,
  prefaceTimeoutMs: PREFACE_TIMEOUT_MS,
};

export function resolveSettings(settings: H2Settings): Required<H2Settings> {
  const s = { ...DEFAULTS };
  for (const [k, v] of Object.entries(settings)) if (v !== undefined) (s as Record<string, number>)[k] = v;
  if (!(s.maxFrameSize >= DEFAULT_MAX_FRAME_SIZE && s.maxFrameSize <= MAX_ALLOWED_FRAME_SIZE)) {
    throw new RangeError(`h2: maxFrameSize ${s.maxFrameSize} outside [16384, 16777215]`);
  }
  if (!(s.initialWindowSize >= 0 && s.initialWindowSize <= MAX_WINDOW_SIZE)) {
    throw new RangeError(`h2: initialWindowSize ${s.initialWindowSize} outside [0, 2^31-1]`);
  }
  if (!(s.connectionWindowSize >= DEFAULT_WINDOW_SIZE && s.connectionWindowSize <= MAX_WINDOW_SIZE)) {
    throw new RangeError(`h2: connectionWindowSize ${s.connectionWindowSize} outside [65535, 2^31-1]`);
  }
  return s;
}

/** Our SETTINGS as the server preface carries them. */
export function prefaceEntries(s: Required<H2Settings>): Array<[number, number]> {
  const entries: Array<[number, number]> = [
    [SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams],
    [SettingId.INITIAL_WINDOW_SIZE, s.initialWindowSize],
    [SettingId.MAX_HEADER_LIST_SIZE, s.maxHeaderListSize],
  ];
  if (s.maxFrameSize !== DEFAULT_MAX_FRAME_SIZE) entries.push([SettingId.MAX_FRAME_SIZE, s.maxFrameSize]);
  return entries;
}
