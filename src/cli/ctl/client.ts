// How tsetcdctl reaches the cluster, with the behaviour etcdctl's clientv3 shows:
// endpoints given as host:port, http://host:port or https://host:port (TLS as the
// connection settings say); a call waits for a reachable endpoint (trying the others)
// until the command timeout and then fails with "context deadline exceeded"; read-only
// calls are retried on a server's "unavailable" answers; server errors print as etcd's
// message when it is one of etcd's own, and as "rpc error: code = ... desc = ..."
// otherwise. With a user and password, the client authenticates before its first call
// (within --dial-timeout; a failure ends the command with exit code 2, as clientv3.New
// failing does), sends the token with every call, and authenticates again once when a
// call is refused for its token.
import { openStream, UnaryClient, type ClientStream } from '../../client/unary-client.js';
import { GrpcCode, GrpcError } from '../../api/grpc/status.js';
import { AuthService } from '../../proto/etcdserverpb.js';
import type { MethodDescriptor, MessageCodec } from '../../proto/runtime.js';
import { endpointTarget, type ConnectionSettings } from './connection.js';
import { CtlExit, ExitCode } from './io.js';
import { zapLine, type ZapField } from './zaplog.js';

/** The messages clientv3 turns back into etcd's own errors (rpctypes). */
const ETCD_ERROR_MESSAGES = new Set([
  'etcdserver: key is not provided',
  'etcdserver: key not found',
  'etcdserver: value is provided',
  'etcdserver: lease is provided',
  'etcdserver: too many operations in txn request',
  'etcdserver: duplicate key given in txn request',
  'etcdserver: mvcc: required revision has been compacted',
  'etcdserver: mvcc: required revision is a future revision',
  'etcdserver: mvcc: database space exceeded',
  'etcdserver: requested lease not found',
  'etcdserver: lease already exists',
  'etcdserver: too large lease TTL',
  'etcdserver: member ID already exist',
  'etcdserver: Peer URLs already exists',
  'etcdserver: re-configuration failed due to not enough started members',
  'etcdserver: given member URLs are invalid',
  'etcdserver: member not found',
  'etcdserver: can only promote a learner member',
  'etcdserver: can only promote a learner member which is in sync with leader',
  'etcdserver: too many learner members in cluster',
  'etcdserver: request is too large',
  'etcdserver: too many requests',
  'etcdserver: root user does not exist',
  'etcdserver: root user does not have root role',
  'etcdserver: user name already exists',
  'etcdserver: user name is empty',
  'etcdserver: user name not found',
  'etcdserver: role name already exists',
  'etcdserver: role name not found',
  'etcdserver: role name is empty',
  'etcdserver: authentication failed, invalid user ID or password',
  'etcdserver: permission denied',
  'etcdserver: role is not granted to the user',
  'etcdserver: permission is not granted to the role',
  'etcdserver: authentication is not enabled',
  'etcdserver: invalid auth token',
  'etcdserver: invalid auth management',
  'etcdserver: revision of auth store is old',
  'etcdserver: no leader',
  'etcdserver: not leader',
  'etcdserver: leader changed',
  'etcdserver: not capable',
  'etcdserver: server stopped',
  'etcdserver: request timed out',
  'etcdserver: request timed out, possibly due to previous leader failure',
  'etcdserver: request timed out, possibly due to connection lost',
  'etcdserver: unhealthy cluster',
  'etcdserver: corrupt cluster',
  'etcdserver: rpc not supported for learner',
  'etcdserver: bad leader transferee',
  'etcdserver: cluster version not found during downgrade',
  'etcdserver: wrong downgrade target version format',
  'etcdserver: invalid downgrade target version',
  'etcdserver: cluster has a downgrade job in progress',
  'etcdserver: no inflight downgrade job',
]);

export const PERMISSION_DENIED = 'etcdserver: permission denied';
export const DEADLINE_EXCEEDED = 'context deadline exceeded';
const AUTH_NOT_ENABLED = 'etcdserver: authentication is not enabled';
/** answers after which clientv3 fetches a new token and tries the call again */
const REFRESH_TOKEN_ON = new Set(['etcdserver: invalid auth token', 'etcdserver: revision of auth store is old']);
const USER_EMPTY = 'etcdserver: user name is empty';
/** How many times a call is made when its token or auth revision keeps going stale. */
const MAX_AUTH_RETRIES = 10;

const CODE_NAMES = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

/** A failed call; `message` is what etcdctl prints after "Error: ". */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    message: string,
    /** the gRPC status as grpc-go prints it ("rpc error: code = ... desc = ..."), for the log */
    readonly grpcText?: string,
  ) {
    super(message);
  }
}

/** grpc-go's error for a call whose deadline passed: never connected, or no answer in time. */
function deadlineError(neverConnected: boolean, lastConnectionError?: string): RpcError {
  const failure = lastConnectionError === undefined ? 'all SubConns are in TransientFailure' : `last connection error: ${lastConnectionError}`;
  const desc = neverConnected ? `latest balancer error: ${failure}` : DEADLINE_EXCEEDED;
  return new RpcError(DEADLINE_EXCEEDED, `rpc error: code = DeadlineExceeded desc = ${desc}`);
}

/**
 * The line clientv3's retry interceptor logs to stderr for every failed attempt of a unary
 * call (etcdctl 3.5's shape); scripts and etcd's e2e tests look for it.
 */
function retryWarning(target: string, attempt: number, err: RpcError): string {
  const fields: ZapField[] = [
    ['target', target],
    ['attempt', attempt],
    ['error', err.grpcText ?? err.message],
  ];
  return zapLine('warn', 'retrying of unary invoker failed', fields, { logger: 'etcd-client', caller: 'v3/retry_interceptor.go:62' });
}

/** Retries of read-only calls on "unavailable" answers (clientv3's default budget). */
const MAX_UNAVAILABLE_RETRIES = 100;
const RETRY_WAIT_MS = 25;
/** Pause after every endpoint failed to connect, before trying them again. */
const RECONNECT_WAIT_MS = 100;

/** A transport failure (nothing answered) rather than a status sent by a server. */
function isTransportFailure(err: unknown): boolean {
  return err instanceof GrpcError && err.code === GrpcCode.Unavailable && !ETCD_ERROR_MESSAGES.has(err.message);
}

function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof GrpcError) {
    const name = CODE_NAMES.get(err.code) ?? `Code(${err.code})`;
    const grpcText = `rpc error: code = ${name} desc = ${err.message}`;
    return new RpcError(ETCD_ERROR_MESSAGES.has(err.message) ? err.message : grpcText, grpcText);
  }
  return new RpcError((err as Error)?.message ?? String(err));
}

/** The URL dialled for an endpoint: its own scheme, or https:// when TLS is configured. */
export function endpointUrl(endpoint: string, settings?: ConnectionSettings): string {
  return endpointTarget(endpoint, settings).url;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Answer<T> {
  msg: T;
  /** the response exactly as received, for --write-out=protobuf */
  raw: Buffer;
}

export class CtlClient {
  private readonly conns = new Map<string, UnaryClient>();
  private current = 0;
  /** the auth token: undefined until authenticated, '' when none is sent */
  private token: string | undefined;

  constructor(
    readonly endpoints: readonly string[],
    readonly settings?: ConnectionSettings,
  ) {
    if (!settings?.auth) this.token = '';
  }

  /** clientv3's name for its connection in log lines: an address and the first endpoint */
  private get logTarget(): string {
    const first = this.endpoints[0] ?? '';
    return `etcd-endpoints://0x${this.logId}/${first.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')}`;
  }

  private readonly logId = `c000${Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0')}`;

  private conn(endpoint: string): UnaryClient {
    let c = this.conns.get(endpoint);
    if (!c) {
      const { url, tls } = endpointTarget(endpoint, this.settings);
      c = new UnaryClient(url, tls);
      this.conns.set(endpoint, c);
    }
    return c;
  }

  private metadata(): Record<string, string> | undefined {
    return this.token ? { token: this.token } : undefined;
  }

  /**
   * clientv3's getToken: Auth.Authenticate with the user and password, on any endpoint,
   * before `deadline`. "authentication is not enabled" means calls go without a token.
   * Failures are RpcErrors with etcd's message.
   */
  async authenticate(deadline: number): Promise<void> {
    const auth = this.settings?.auth;
    if (!auth) {
      this.token = '';
      return;
    }
    this.token = undefined;
    try {
      const ans = await this.send(AuthService.methods.Authenticate, { name: auth.username, password: auth.password }, deadline, { repeatable: false });
      this.token = ans.msg.token;
    } catch (err) {
      if (err instanceof RpcError) this.settings?.log?.(retryWarning(this.logTarget, 0, err));
      if (err instanceof RpcError && err.message === AUTH_NOT_ENABLED) this.token = '';
      else throw err;
    }
  }

  /**
   * Authenticates if that has not happened yet, within --dial-timeout. As with
   * clientv3.New failing, a failure ends the command: "Error: <message>", exit code 2.
   */
  private async ensureAuthenticated(): Promise<void> {
    if (this.token !== undefined) return;
    try {
      await this.authenticate(Date.now() + (this.settings?.dialTimeoutMs ?? 2000));
    } catch (err) {
      if (err instanceof RpcError) throw new CtlExit(ExitCode.BadConnection, err.message);
      throw err;
    }
  }

  /**
   * Opens a streaming call (watch, lease keep-alive...) on the current endpoint with the
   * client's TLS settings and auth token.
   */
  async openStream(path: string): Promise<ClientStream> {
    await this.ensureAuthenticated();
    const at = this.current;
    const endpoint = this.endpoints[at % this.endpoints.length]!;
    const { url, tls } = endpointTarget(endpoint, this.settings);
    const stream = openStream(url, path, tls, this.metadata());
    // a stream that lost its connection: the next one goes to the next endpoint (as
    // clientv3's balancer moves away from a member that went down)
    stream.done.catch((err: unknown) => {
      if (isTransportFailure(err) && this.current === at) this.current++;
    });
    return stream;
  }

  /**
   * Calls `method` on the cluster before `deadline` (Date.now() milliseconds). Without
   * `endpoint`, any endpoint may answer; with it, only that one.
   */
  async call<Req, Res>(
    method: MethodDescriptor & { request: MessageCodec<Req>; response: MessageCodec<Res> },
    request: Req,
    deadline: number,
    opts: { repeatable: boolean; endpoint?: string },
  ): Promise<Answer<Res>> {
    await this.ensureAuthenticated();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(method, request, deadline, opts);
      } catch (err) {
        if (err instanceof RpcError) this.settings?.log?.(retryWarning(this.logTarget, attempt - 1, err));
        if (!(err instanceof RpcError) || attempt >= MAX_AUTH_RETRIES || !this.shouldRefreshToken(err.message)) throw err;
        // clientv3's retry interceptor: a new token (if it logs in), then the call again
        if (this.settings?.auth) await this.authenticate(deadline);
      }
    }
  }

  /**
   * clientv3's shouldRefreshToken: a stale or rejected token, or an auth revision that
   * moved on (also for certificate-name callers, who have no token); an empty user
   * only when a user and password were given.
   */
  private shouldRefreshToken(message: string): boolean {
    if (message === USER_EMPTY) return this.settings?.auth !== undefined;
    return REFRESH_TOKEN_ON.has(message);
  }

  private async send<Req, Res>(
    method: MethodDescriptor & { request: MessageCodec<Req>; response: MessageCodec<Res> },
    request: Req,
    deadline: number,
    opts: { repeatable: boolean; endpoint?: string },
  ): Promise<Answer<Res>> {
    const body = method.request.encode(request);
    const metadata = method.path === AuthService.methods.Authenticate.path ? undefined : this.metadata();
    const targets = opts.endpoint !== undefined ? [opts.endpoint] : this.endpoints;
    let unavailableRetries = 0;
    let failedInARow = 0;
    let connected = false;
    let lastConnectionError: string | undefined;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw deadlineError(!connected, lastConnectionError);
      const endpoint = targets[this.current % targets.length]!;
      try {
        const raw = await this.withDeadline(this.conn(endpoint).call(method.path, body, { timeoutMs: remaining, ...(metadata && { metadata }) }), deadline, () => (!connected && !this.conn(endpoint).connected ? lastConnectionError ?? '' : undefined));
        return { msg: method.response.decode(raw), raw };
      } catch (err) {
        if (err instanceof RpcError) throw err;
        // the server gives up at the deadline we sent it (grpc-timeout): that is our deadline
        if (err instanceof GrpcError && err.code === GrpcCode.DeadlineExceeded && deadline - Date.now() < 50) {
          throw deadlineError(false);
        }
        if (!isTransportFailure(err)) connected = true;
        if (isTransportFailure(err)) {
          if ((err as GrpcError).message.startsWith('connection error: ')) lastConnectionError = (err as GrpcError).message;
          this.current++;
          failedInARow++;
          if (failedInARow % targets.length === 0) await sleep(Math.min(RECONNECT_WAIT_MS, Math.max(0, deadline - Date.now())));
          continue;
        }
        const unavailable = err instanceof GrpcError && err.code === GrpcCode.Unavailable;
        if (unavailable && opts.repeatable && unavailableRetries < MAX_UNAVAILABLE_RETRIES) {
          unavailableRetries++;
          await sleep(RETRY_WAIT_MS);
          continue;
        }
        throw toRpcError(err);
      }
    }
  }

  /** `p`, or the deadline error; `connectionFailure` says undefined once connected, else the last failure ('' for none). */
  private withDeadline<T>(p: Promise<T>, deadline: number, connectionFailure: () => string | undefined): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      // timers may fire a little early; the deadline must really have passed
      const arm = (): void => {
        const left = deadline - Date.now();
        if (left > 0) timer = setTimeout(arm, left + 1);
        else {
          const failure = connectionFailure();
          reject(deadlineError(failure !== undefined, failure || undefined));
        }
      };
      arm();
    });
    return Promise.race([p, expired]).finally(() => clearTimeout(timer));
  }

  close(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}
