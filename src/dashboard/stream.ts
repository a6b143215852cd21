// Runs one of the member's gRPC stream handlers (watch, snapshot) inside the process: the
// handler sees an ordinary StreamCall, the dashboard gets its messages as protobuf bytes.
// Contract: onEnd is called exactly once (with the error the handler ended with, if any),
// after which send/halfClose/close do nothing; close() is what a disconnecting client does.
import type { CallContext, StreamCall, StreamHandler } from '../api/grpc/server.js';
import type { GrpcError } from '../api/grpc/status.js';

export interface InProcessSink {
  /** one response message; returning false asks the handler to wait for drained() */
  onMessage(bytes: Uint8Array): boolean | void;
  onEnd(err?: GrpcError): void;
}

export interface InProcessStream {
  send(request: Uint8Array): void;
  /** sends the request and says no more will come */
  halfClose(request: Uint8Array): void;
  /** the sink can take more after onMessage returned false */
  drained(): void;
  close(): void;
}

export function openInProcessStream(handler: StreamHandler, ctx: CallContext, sink: InProcessSink): InProcessStream {
  let ended = false;
  const call: StreamCall = {
    ctx,
    get ended() {
      return ended;
    },
    send(message) {
      if (ended) return false;
      return sink.onMessage(message) !== false;
    },
    end(err) {
      if (ended) return;
      ended = true;
      sink.onEnd(err);
      call.onClose();
    },
    onMessage: () => {},
    onHalfClose: () => {},
    onClose: () => {},
    onDrain: () => {},
  };
  handler(call);
  return {
    send: (request) => {
      if (!ended) call.onMessage(request);
    },
    halfClose: (request) => {
      if (ended) return;
      call.onMessage(request);
      if (!ended) call.onHalfClose();
    },
    drained: () => {
      if (!ended) call.onDrain();
    },
    close: () => {
      if (ended) return;
      ended = true;
      call.onClose();
    },
  };
}
