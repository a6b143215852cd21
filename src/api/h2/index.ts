// Server-side HTTP/2 (RFC 9113) with HPACK (RFC 7541), for gRPC over h2c and TLS.

export { serveHttp2 } from './connection.js';
export type { H2Connection, H2ServerStream, H2Settings, OutgoingHeaders } from './types.js';
export { ErrorCode, H2Error, errorCodeName } from './frames.js';
export { STREAM_HIGH_WATER_MARK } from './stream.js';
export { PREFACE_TIMEOUT_MS } from './guards.js';
