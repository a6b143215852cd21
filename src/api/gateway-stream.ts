// Streaming calls over the JSON gateway, as etcd's grpc-gateway serves them: the
// request body is a sequence of JSON request objects, and each response message is
// written as one line `{"result":{...}}`. The gRPC stream handler itself is reused: a
// StreamCall whose messages are JSON on one side and protobuf on the other.
import { toGrpcError } from './errors.js';
import type { Codec } from './method.js';
import type { CallContext, StreamCall, StreamHandler } from './grpc/server.js';
import { GrpcCode, GrpcError } from './grpc/status.js';
import type { HttpRequestLike, HttpResponseLike } from './listener.js';

export interface GatewayStream {
  /** below /v3, e.g. /watch */
  gatewayPath: string;
  grpcPath: string;
  request: Codec<unknown>;
  response: Codec<unknown>;
  handler: StreamHandler;
}

/** Splits concatenated JSON values ("{..} {..}") as the bytes arrive. */
export class JsonValueSplitter {
  private text = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;

  /** Returns the complete top-level values now available, as text. */
  push(chunk: string): string[] {
    this.text += chunk;
    const out: string[] = [];
    for (let i = this.scanned; i < this.text.length; i++) {
      const ch = this.text[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (ch === '"') {
        this.inString = true;
        if (this.depth === 0 && this.start < 0) this.start = i;
      } else if (ch === '{' || ch === '[') {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (ch === '}' || ch === ']') {
        this.depth--;
        if (this.depth === 0) {
          out.push(this.text.slice(this.start, i + 1));
          this.start = -1;
        }
      } else if (this.depth === 0 && !/\s/.test(ch)) {
        // a bare scalar at top level: hand it on so the parser reports it
        out.push(this.text.slice(i));
        this.text = '';
        this.scanned = 0;
        return out;
      }
    }
    if (this.depth === 0 && this.start < 0) {
      this.text = '';
      this.scanned = 0;
    } else {
      this.scanned = this.text.length;
    }
    return out;
  }
}

/**
 * Runs one gateway streaming call on an HTTP request/response pair. With `admitted`, the
 * call starts only once it resolves (a --max-concurrent-streams slot); request data that
 * arrives before is kept and delivered in order.
 */
export function serveGatewayStream(route: GatewayStream, req: HttpRequestLike, res: HttpResponseLike, admitted?: Promise<unknown>): void {
  let ended = false;
  const controller = new AbortController();
  const writeLine = (obj: unknown): void => {
    if (!ended) res.write(JSON.stringify(obj) + '\n');
  };
  const finish = (err?: GrpcError): void => {
    if (ended) return;
    if (err) writeLine({ error: err.message, message: err.message, code: err.code });
    ended = true;
    res.end();
    call.onClose();
  };
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  const ctx: CallContext = { path: route.grpcPath, metadata: req.headers, signal: controller.signal };
  const call: StreamCall = {
    ctx,
    get ended() {
      return ended;
    },
    send(message) {
      writeLine({ result: route.response.toJSON(route.response.decode(message)) });
      return true;
    },
    end: (err) => finish(err),
    onMessage: () => {},
    onHalfClose: () => {},
    onClose: () => {},
    onDrain: () => {},
  };
  let started = admitted === undefined;
  const early: Array<Buffer | null> = [];
  const onData = (chunk: Buffer): void => {
    if (ended) return;
    for (const text of splitter.push(chunk.toString('utf8'))) {
      let bytes: Uint8Array;
      try {
        bytes = route.request.encode(route.request.fromJSON(parseJsonLossless(text)));
      } catch (err) {
        // etcd's gateway reports a bad request object in the stream, with code Unknown
        const message = err instanceof SyntaxError ? goJsonSyntaxError(text) : toGrpcError(err).message;
        finish(new GrpcError(GrpcCode.Unknown, message));
        return;
      }
      call.onMessage(bytes);
    }
  };
  const onEnd = (): void => {
    if (!ended) call.onHalfClose();
  };
  const splitter = new JsonValueSplitter();
  if (started) route.handler(call);
  else {
    void admitted!.then(() => {
      started = true;
      if (ended) return;
      route.handler(call);
      for (const chunk of early) chunk === null ? onEnd() : onData(chunk);
    });
  }
  req.on('data', (chunk: Buffer) => (started ? onData(chunk) : void early.push(chunk)));
  req.on('end', () => (started ? onEnd() : void early.push(null)));
  res.on('close', () => {
    controller.abort();
    if (!ended) {
      ended = true;
      call.onClose();
    }
  });
}

/**
 * Go's encoding/json wording for the most common syntax error (clients and scripts see
 * it through etcd's gateway): the first character that cannot start a value.
 */
export function goJsonSyntaxError(text: string): string {
  const trimmed = text.trimStart();
  const ch = trimmed[0];
  if (ch !== undefined && !'{["-0123456789tfn'.includes(ch)) return `invalid character '${ch}' looking for beginning of value`;
  if (trimmed.length === 0) return 'unexpected end of JSON input';
  return 'invalid character in JSON input';
}

/**
 * JSON.parse, except that integer literals beyond 2^53 are kept exactly, as strings: the
 * gateway's int64 fields (lease IDs, revisions) arrive as JSON numbers from Go and curl
 * users, and a double would round them (etcd's gateway decodes them exactly). The
 * protobuf JSON readers take int64 fields as strings too.
 */
export function parseJsonLossless(text: string): unknown {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    let j = i + 1;
    while (j < text.length && /[0-9eE.+-]/.test(text[j]!)) j++;
    const literal = text.slice(i, j);
    if (/^-?[0-9]+$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
      out += text.slice(from, i) + `"${literal}"`;
      from = j;
    }
    i = j - 1;
  }
  return JSON.parse(from === 0 ? text : out + text.slice(from));
}
