// HTTP/2 wire constants (RFC 9113 sections 4, 6, 7 and 11) and the error type used
// inside the connection to abort with a connection-level error code.

/** Every frame starts with 9 octets: length(24) type(8) flags(8) R(1) stream id(31). */
export const FRAME_HEADER_LENGTH = 9;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flags = {
  /** DATA, HEADERS */
  END_STREAM: 0x1,
  /** SETTINGS, PING */
  ACK: 0x1,
  /** HEADERS, CONTINUATION */
  END_HEADERS: 0x4,
  /** DATA, HEADERS */
  PADDED: 0x8,
  /** HEADERS */
  PRIORITY: 0x20,
} as const;

export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** Protocol defaults that hold until the peer's SETTINGS say otherwise. */
export const DEFAULT_WINDOW_SIZE = 65535;
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const MAX_ALLOWED_FRAME_SIZE = 0xffffff;
export const MAX_WINDOW_SIZE = 0x7fffffff;
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

/** What a client sends first: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const ERROR_NAMES: readonly string[] = Object.keys(ErrorCode);

export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `UNKNOWN_ERROR_0x${code.toString(16)}`;
}

/**
 * A protocol violation by the peer. Thrown inside frame handling and caught at the
 * socket handler, which answers with GOAWAY carrying `code` and closes the connection.
 */
export class H2Error extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** GOAWAY debug data when a peer matches on it (gRPC's "too_many_pings"); default: the message */
    readonly debugData?: string,
  ) {
    super(`${errorCodeName(code)}: ${message}`);
    this.name = 'H2Error';
  }
}

/** Writes a frame header into `buf` at `off`. */
export function writeFrameHeader(
  buf: Uint8Array,
  off: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  buf[off] = (length >>> 16) & 0xff;
  buf[off + 1] = (length >>> 8) & 0xff;
  buf[off + 2] = length & 0xff;
  buf[off + 3] = type;
  buf[off + 4] = flags;
  writeUint32(buf, off + 5, streamId & 0x7fffffff);
}

export function writeUint32(buf: Uint8Array, off: number, value: number): void {
  buf[off] = (value >>> 24) & 0xff;
  buf[off + 1] = (value >>> 16) & 0xff;
  buf[off + 2] = (value >>> 8) & 0xff;
  buf[off + 3] = value & 0xff;
}

export function readUint32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/**
 * Builds a whole frame in a fresh buffer. Only for rare frames and tests; the
 * connection writes its frames straight into its output slab.
 */
export function buildFrame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

const EMPTY = new Uint8Array(0);

/**
 * Hands an error to a connection's onError hook; without one, only what is neither a
 * peer's protocol error nor a socket error (a bug of ours or of a callback) is warned.
 */
export function reportError(hook: ((err: Error) => void) | undefined, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  if (hook !== undefined) {
    try {
      hook(error);
    } catch {
      // An error handler that throws has nowhere left to report to.
    }
  } else if (!(error instanceof H2Error) && typeof (error as NodeJS.ErrnoException).code !== 'string') {
    process.emitWarning(error);
  }
}
