// Who is calling: the auth token in the call's metadata, else the verified client
// certificate's CN (with --client-cert-auth). Undefined while auth is disabled.
import { tokenFromMetadata, type AuthInfo } from '../auth/index.js';
import type { AuthPort } from '../server/ports.js';
import type { CallContext } from './grpc/server.js';

export function callerOf(server: Pick<AuthPort, 'authInfo'>, ctx: CallContext): AuthInfo | undefined {
  return server.authInfo(tokenFromMetadata(ctx.metadata), ctx.peerCommonName);
}

/** For operations etcd reserves to the root role (defragment, snapshot, hashes, membership). */
export function requireAdmin(server: Pick<AuthPort, 'authInfo' | 'authEnabled' | 'checkAdmin'>, ctx: CallContext): void {
  if (!server.authEnabled) return;
  server.checkAdmin(callerOf(server, ctx));
}
