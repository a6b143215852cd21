// Turning decoded header fields into the objects streams expose, with the checks
// RFC 9113 8.2 and 8.3 ask of requests and trailers. A null result means malformed:
// the stream is reset with PROTOCOL_ERROR.

/** Header names that are HTTP/1 connection-specific and malformed in HTTP/2 (RFC 9113 8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * Builds the request header object and checks it is a valid request (RFC 9113 8.3.1);
 * null when malformed. :authority is passed through unchecked, on purpose: grpc-go
 * sends a full URL there for some etcd calls.
 */
export function requestHeaders(fields: string[]): Record<string, string> | null {
  const headers: Record<string, string> = Object.create(null);
  let regular = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name.charCodeAt(0) === 0x3a) {
      if (regular || headers[name] !== undefined) return null;
      if (name !== ':method' && name !== ':path' && name !== ':scheme' && name !== ':authority') return null;
      headers[name] = value;
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name)) return null;
    if (name === 'te' && value !== 'trailers') return null;
    const prev = headers[name];
    headers[name] = prev === undefined ? value : `${prev}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  const method = headers[':method'];
  if (method === undefined) return null;
  if (method === 'CONNECT') {
    if (headers[':scheme'] !== undefined || headers[':path'] !== undefined || headers[':authority'] === undefined) {
      return null;
    }
  } else if (headers[':scheme'] === undefined || !headers[':path']) {
    return null;
  }
  return headers;
}

/** Trailers (flat name, value pairs): no pseudo-headers, no connection-specific fields. */
export function trailerHeaders(fields: string[]): Record<string, string> | null {
  const trailers: Record<string, string> = Object.create(null);
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (name.charCodeAt(0) === 0x3a || CONNECTION_SPECIFIC.has(name)) return null;
    const prev = trailers[name];
    trailers[name] = prev === undefined ? fields[i + 1]! : `${prev}, ${fields[i + 1]!}`;
  }
  return trailers;
}
