// grpc.health.v1.Health on the client port, as etcd registers it: the whole server ("")
// is SERVING, or NOT_SERVING while a defragmentation runs with
// --experimental-stop-grpc-service-on-defrag (so balancing clients go elsewhere).
// Check answers the status (NotFound "unknown service" for any other service name);
// Watch sends it now and again whenever it changes (SERVICE_UNKNOWN for other names).
import { toGrpcError } from './errors.js';
import { HealthCheckRequest, HealthCheckResponse, HealthCheckResponse_ServingStatus as Status } from '../proto/grpc_health_v1.js';
import type { Logger } from '../pkg/logger.js';
import type { GrpcRouter } from './grpc/server.js';
import { GrpcCode, GrpcError } from './grpc/status.js';
import { decodeRequest } from './method.js';

/** the service name etcd sets: every service of the server */
const ALL_SERVICES = '';

export class ServingStatus {
  private status = Status.SERVING;
  private readonly listeners = new Set<(s: Status) => void>();

  get current(): Status {
    return this.status;
  }

  set(status: Status, logger: Logger, reason?: string): void {
    if (status === this.status) return;
    this.status = status;
    const fields = { service: ALL_SERVICES, status: Status[status], ...(reason ? { reason } : {}) };
    if (status === Status.SERVING) logger.info('grpc service status changed', fields);
    else logger.warn('grpc service status changed', fields);
    for (const l of this.listeners) l(status);
  }

  watch(listener: (s: Status) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}

export function registerHealthService(router: GrpcRouter, status: ServingStatus): void {
  router.unary('/grpc.health.v1.Health/Check', (bytes) => {
    const req = decodeRequest(HealthCheckRequest, bytes);
    if (req.service !== ALL_SERVICES) throw new GrpcError(GrpcCode.NotFound, 'unknown service');
    return HealthCheckResponse.encode({ status: status.current });
  });
  router.stream('/grpc.health.v1.Health/Watch', (call) => {
    let stop = (): void => {};
    call.onMessage = (bytes) => {
      let req: HealthCheckRequest;
      try {
        req = decodeRequest(HealthCheckRequest, bytes);
      } catch (err) {
        call.end(toGrpcError(err));
        return;
      }
      if (req.service !== ALL_SERVICES) {
        call.send(HealthCheckResponse.encode({ status: Status.SERVICE_UNKNOWN }));
        return;
      }
      call.send(HealthCheckResponse.encode({ status: status.current }));
      stop = status.watch((s) => call.send(HealthCheckResponse.encode({ status: s })));
    };
    call.onHalfClose = () => {};
    call.onClose = () => stop();
  });
}
