// Shared pieces for the HTTP/2 tests: a TCP server running serveHttp2, a raw-frame
// client, and a frame parser for what the server sends back.

import net from 'node:net';
import { EventEmitter } from 'node:events';
import { serveHttp2, type H2Connection, type H2ServerStream, type H2Settings } from '../../src/api/h2/index.js';
import { CLIENT_PREFACE, FrameType, buildFrame } from '../../src/api/h2/frames.js';

export interface TestServer {
  port: number;
  connections: H2Connection[];
  errors: Error[];
  close(): Promise<void>;
}

export async function startServer(onStream: (s: H2ServerStream) => void, settings?: H2Settings): Promise<TestServer> {
  const connections: H2Connection[] = [];
  const errors: Error[] = [];
  const server = net.createServer((socket) => {
    const c = serveHttp2(socket, Buffer.alloc(0), onStream, settings);
    c.onError = (err) => errors.push(err);
    connections.push(c);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

export function parseFrames(buf: Buffer): Frame[] {
  const frames: Frame[] = [];
  let pos = 0;
  while (buf.length - pos >= 9) {
    const len = buf.readUIntBE(pos, 3);
    if (buf.length - pos - 9 < len) break;
    frames.push({
      type: buf[pos + 3]!,
      flags: buf[pos + 4]!,
      id: buf.readUInt32BE(pos + 5) & 0x7fffffff,
      payload: buf.subarray(pos + 9, pos + 9 + len),
    });
    pos += 9 + len;
  }
  return frames;
}

export function frame(type: number, flags: number, id: number, payload: number[] | Buffer = []): Buffer {
  return buildFrame(type, flags, id, Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
}

export const SETTINGS_EMPTY = frame(FrameType.SETTINGS, 0, 0);
/** Preface and an empty SETTINGS: what every raw test starts with. */
export const HELLO = Buffer.concat([CLIENT_PREFACE, SETTINGS_EMPTY]);

/** HPACK for a minimal POST / request: :method POST, :scheme http, :path /, :authority localhost. */
export const POST_ROOT_BLOCK = Buffer.concat([Buffer.from([0x83, 0x86, 0x84, 0x01, 0x09]), Buffer.from('localhost')]);

/**
 * Connects, writes `bytes`, and collects what comes back until the server closes the
 * connection or `waitMs` passes.
 */
export function rawExchange(port: number, bytes: Buffer, waitMs = 1500): Promise<{ frames: Frame[]; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ frames: parseFrames(Buffer.concat(chunks)), closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => finish(true));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
  });
}

export function goawayCode(frames: Frame[]): number | undefined {
  const g = frames.find((f) => f.type === FrameType.GOAWAY);
  return g === undefined ? undefined : g.payload.readUInt32BE(4);
}

export function rstCodes(frames: Frame[]): Array<[number, number]> {
  return frames.filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.id, f.payload.readUInt32BE(0)]);
}

/**
 * A stand-in for net.Socket that records what is written and lets a test feed input
 * in any split it likes. Enough of the Socket surface for serveHttp2.
 */
export class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  destroyed = false;
  writable = true;
  writableLength = 0;
  ended = false;
  setNoDelay(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(data: Uint8Array): boolean {
    this.written.push(Buffer.from(data));
    return true;
  }
  end(): this {
    this.ended = true;
    this.writable = false;
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.writable = false;
      setImmediate(() => this.emit('close'));
    }
    return this;
  }
  feed(data: Buffer): void {
    this.emit('data', data);
  }
  output(): Buffer {
    return Buffer.concat(this.written);
  }
  asSocket(): net.Socket {
    return this as unknown as net.Socket;
  }
}

export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
