// Who is calling: the auth token in the call's metadata, else the verified client
// certificate's CN (with --client-cert-auth). Undefined while auth is disabled.
import { tokenFromMetadata, type AuthInfo } from '../auth/index.js';
import type { EtcdServer } from '../server/server.js';
import type { CallContext } from './grpc/server.js';

export function callerOf(server: EtcdServer, ctx: CallContext): AuthInfo | undefined {
  return server.auth.authInfo(tokenFromMetadata(ctx.metadata), ctx.peerCommonName);
}

/** For operations etcd reserves to the root role (defragment, snapshot, hashes, membership). */
export function requireAdmin(server: EtcdServer, ctx: CallContext): void {
  if (!server.auth.enabled) return;
  server.auth.checkAdmin(callerOf(server, ctx));
}
