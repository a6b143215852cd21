// etcd's access control on the client port's HTTP side (--cors, --host-whitelist).
//
// Contract, as etcd's embed/serve.go applies it to every HTTP request (not to gRPC):
//  - on a connection without TLS, a Host header (port dropped) not in --host-whitelist is
//    answered 421 with etcd's DNS-rebinding explanation; '*' or an empty list allow all;
//  - CORS headers: Access-Control-Allow-Origin '*' when --cors holds '*' (the default),
//    the request's Origin when --cors lists it, none otherwise; OPTIONS is answered 200
//    at once.
import type { HttpHandler, HttpRequestLike, HttpResponseLike } from './listener.js';
import type { Logger } from '../pkg/logger.js';

export interface AccessRules {
  /** --cors as given (origins, or '*') */
  cors: readonly string[];
  /** --host-whitelist as given (host names, or '*') */
  hostWhitelist: readonly string[];
}

const CORS_FIELDS = ['access-control-allow-methods', 'access-control-allow-origin', 'access-control-allow-headers'];
const CORS_METHODS = 'POST, GET, OPTIONS, PUT, DELETE';
const CORS_HEADERS = 'accept, content-type, authorization';

function allows(list: readonly string[], value: string): boolean {
  return list.length === 0 || list.includes('*') || list.includes(value);
}

/** The Host header without its port, as Go's net.SplitHostPort leaves it (IPv6 brackets gone). */
export function hostnameOf(host: string): string {
  const m = /^\[([^\]]*)\](?::\d*)?$/.exec(host) ?? /^([^:]*):\d*$/.exec(host);
  return m ? m[1]! : host;
}

/** etcd's explanation for a refused Host header (CVE-2018-5702). */
export function hostRefusalText(host: string): string {
  return `
etcd received your request, but the Host header was unrecognized.

To fix this, choose one of the following options:
- Enable TLS, then any HTTPS request will be allowed.
- Add the hostname you want to use to the whitelist in settings.
  - e.g. etcd --host-whitelist ${JSON.stringify(host)}

This requirement has been added to help prevent "DNS Rebinding" attacks (CVE-2018-5702).
`;
}

/** The CORS origin to announce for a request, or undefined for none. */
function corsOrigin(rules: AccessRules, req: HttpRequestLike): string | undefined {
  if (allows(rules.cors, '*')) return '*';
  const origin = req.headers['origin'];
  return typeof origin === 'string' && allows(rules.cors, origin) ? origin : undefined;
}

/** Wraps the HTTP handler of one listener; `secure` when its connections are TLS. */
export function withAccessControl(inner: HttpHandler, rules: AccessRules, secure: boolean, logger: Logger): HttpHandler {
  return (req, res) => {
    if (!secure) {
      const host = hostnameOf(String(req.headers['host'] ?? req.headers[':authority'] ?? ''));
      if (!allows(rules.hostWhitelist, host)) {
        logger.warn('rejecting HTTP request to prevent DNS rebinding attacks', { host });
        const body = hostRefusalText(host) + '\n';
        res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
    }
    const origin = corsOrigin(rules, req);
    const cors: Record<string, string> = origin === undefined ? {} : { 'Access-Control-Allow-Methods': CORS_METHODS, 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Headers': CORS_HEADERS };
    if (req.method === 'OPTIONS') {
      res.writeHead(200, { ...cors, 'Content-Length': 0 });
      res.end();
      return;
    }
    inner(req, withCorsHeaders(res, cors));
  };
}

/** A response whose CORS headers are exactly `cors`, whatever the handler wrote. */
function withCorsHeaders(res: HttpResponseLike, cors: Record<string, string>): HttpResponseLike {
  const out: HttpResponseLike = {
    writeHead(status, headers) {
      const kept: Record<string, string | number> = {};
      for (const [k, v] of Object.entries(headers)) if (!CORS_FIELDS.includes(k.toLowerCase())) kept[k] = v;
      res.writeHead(status, { ...kept, ...cors });
      return out;
    },
    write: (chunk) => res.write(chunk),
    end(body) {
      res.end(body);
      return out;
    },
    on(event, fn) {
      res.on(event, fn);
      return out;
    },
  };
  return out;
}
