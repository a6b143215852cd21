// The public shape of the HTTP/2 server: what serveHttp2() returns and what its
// onStream callback receives.

import type { Socket } from 'node:net';

export interface H2Settings {
  /** SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused with RST_STREAM(REFUSED_STREAM). Default 1000. */
  maxConcurrentStreams?: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. Default 1 MiB. */
  initialWindowSize?: number;
  /** SETTINGS_MAX_FRAME_SIZE: the largest frame payload we accept. Default 16384. */
  maxFrameSize?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: larger request header lists get a 431 response. Default 1 MiB. */
  maxHeaderListSize?: number;
  /** The connection's receive window, raised from 65535 right after our SETTINGS. Default 8 MiB. */
  connectionWindowSize?: number;
  /**
   * gRPC's keepalive enforcement (etcd's --grpc-keepalive-min-time): a client that pings
   * more often than this while it has streams open (or at all, without streams: every two
   * hours at most) gets strikes; the third is answered with GOAWAY ENHANCE_YOUR_CALM
   * "too_many_pings". Any HEADERS or DATA we send forgives. 0 (default) enforces nothing.
   */
  keepaliveMinTimeMs?: number;
  /** etcd's --grpc-keepalive-interval: after this long without reading anything, ping the client. 0 (default): never. */
  keepaliveIntervalMs?: number;
  /** etcd's --grpc-keepalive-timeout: close a connection whose client stays silent this long after our ping. Default 20 s. */
  keepaliveTimeoutMs?: number;
  /**
   * gRPC's MaxConnectionIdle: a connection with no open stream for this long is closed
   * with GOAWAY(NO_ERROR) (clients reconnect on their next call). 0 (default): never.
   */
  idleTimeoutMs?: number;
  /** The client preface and first SETTINGS must arrive within this, or the socket is destroyed. Default 10 s (Go's). */
  prefaceTimeoutMs?: number;
}

export type OutgoingHeaders = Readonly<Record<string, string | number>>;

export interface H2ServerStream {
  readonly id: number;
  /**
   * Request headers, names lower-case, pseudo-headers included (':method', ':path',
   * ':authority', ':scheme'); repeated names joined with ', ' ('; ' for cookie).
   * The object has no prototype.
   */
  readonly headers: Record<string, string>;
  /** Trailers the client sent after its body, if any; set before onEnd is called. */
  readonly trailers: Record<string, string> | undefined;
  readonly connection: H2Connection;
  /**
   * Sends the response HEADERS (':status' must be included). endStream=true makes it a
   * header-only (for gRPC: trailers-only) response. Throws if headers were already sent.
   * Reusing one frozen object for a common header set lets its encoding be cached.
   */
  respond(headers: OutgoingHeaders, endStream?: boolean): void;
  readonly headersSent: boolean;
  /**
   * Queues DATA (sending ':status: 200' first if respond() was not called). Frames are
   * split at the peer's max frame size and sent as the stream and connection windows
   * allow. Returns false when this stream's queued-but-unsent bytes exceed 64 KiB; wait
   * for onDrain. The bytes are referenced, not copied: do not modify them afterwards.
   * A no-op returning false once the stream is ended or closed.
   */
  write(data: Uint8Array): boolean;
  /**
   * Finishes the response after all queued DATA: with trailers as HEADERS(END_STREAM),
   * without as END_STREAM on the last DATA frame (or an empty one). If the client has
   * not finished its request by then, the stream is closed with RST_STREAM(NO_ERROR).
   */
  end(trailers?: OutgoingHeaders): void;
  /** Sends RST_STREAM with the code (default CANCEL = 8) and closes the stream. */
  reset(code?: number): void;
  /**
   * Request body bytes, in order. The buffer is a view into received socket data that
   * is never reused, so it may be kept without copying.
   */
  onData: (chunk: Buffer) => void;
  /** The client sent END_STREAM (after any trailers). */
  onEnd: () => void;
  /**
   * The stream is finished: both sides ended, reset by either side, or the connection
   * is gone. Called exactly once, possibly from inside end() or reset().
   */
  onClose: () => void;
  /**
   * The queued bytes fell to 64 KiB or below (and the connection's queued output below
   * its bound) after a write() returned false.
   */
  onDrain: () => void;
  /**
   * true (default): request bytes count as consumed once onData returns, and the
   * connection's receive window reopens for them. Set false in onStream to keep them
   * counted (bounding what a client can make the handler buffer) until consumed(n).
   */
  consumeOnDelivery: boolean;
  /** With consumeOnDelivery false: the handler is done with n more delivered bytes. */
  consumed(n: number): void;
  /**
   * Marks handler work under way for this stream until the returned function is called.
   * Work still running after the stream closed (the client reset it) counts against the
   * connection's stream limit, so a client cannot start more work by resetting streams.
   */
  holdWork(): () => void;
  readonly closed: boolean;
}

export interface H2Connection {
  readonly socket: Socket;
  /** Sends GOAWAY(NO_ERROR, last stream id), lets open streams finish, then ends the socket. */
  close(): void;
  /** Destroys the socket at once; every open stream gets onClose. */
  destroy(): void;
  /**
   * Optional hook for errors: protocol errors by the peer (H2Error, with its code),
   * socket errors, and exceptions thrown by stream callbacks (the stream is then reset
   * with INTERNAL_ERROR; without this hook they are reported with process.emitWarning).
   */
  onError: ((err: Error) => void) | undefined;
  /** Streams currently open. */
  readonly openStreams: number;
}
