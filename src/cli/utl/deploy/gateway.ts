// A small client for the members' JSON gateway (POST /v3/...), enough for the
// deployment helpers: member list/add/remove/promote and the auth set-up. It speaks to
// any etcd v3.4+ or tsetcd member, over plain HTTP or (mutual) TLS, and logs in as root
// when a password is given. Errors carry etcd's message (e.g. "etcdserver: ...").
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

export interface GatewayTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface Member {
  ID: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 5000;

export class Gateway {
  private token: string | undefined;
  private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };

  constructor(
    readonly endpoint: string,
    tls: GatewayTls = {},
    private readonly rootPassword?: string,
  ) {
    this.tls = {};
    if (tls.ca) this.tls.ca = fs.readFileSync(tls.ca);
    if (tls.cert) this.tls.cert = fs.readFileSync(tls.cert);
    if (tls.key) this.tls.key = fs.readFileSync(tls.key);
  }

  /** One POST; `auth` false skips the login (for the login itself and auth set-up). */
  async call<T>(path: string, body: object, auth = true): Promise<T> {
    if (auth && this.rootPassword !== undefined && this.token === undefined) await this.login();
    try {
      return await this.post<T>(path, body);
    } catch (err) {
      // an expired simple token: log in again once
      if (auth && this.token !== undefined && /invalid auth token/.test((err as Error).message)) {
        this.token = undefined;
        await this.login();
        return this.post<T>(path, body);
      }
      throw err;
    }
  }

  private async login(): Promise<void> {
    try {
      const r = await this.post<{ token?: string }>('/v3/auth/authenticate', { name: 'root', password: this.rootPassword });
      this.token = r.token;
    } catch (err) {
      // before auth is enabled there is nothing to log in to
      if (!/authentication is not enabled/.test((err as Error).message)) throw err;
    }
  }

  private post<T>(path: string, body: object): Promise<T> {
    const url = new URL(path, this.endpoint);
    const payload = Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) };
    if (this.token) headers['Authorization'] = this.token;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method: 'POST', headers, timeout: TIMEOUT_MS, ...this.tls }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // a non-JSON answer keeps its text as the message
          }
          if (res.statusCode === 200) return resolve(json as T);
          const message = String(json['message'] ?? json['error'] ?? text.trim() ?? `HTTP ${res.statusCode}`);
          reject(new GatewayError(message, res.statusCode ?? 0));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${url.host}: no answer within ${TIMEOUT_MS / 1000}s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  memberList(): Promise<Member[]> {
    return this.call<{ members?: Member[] }>('/v3/cluster/member/list', { linearizable: true }).then((r) => r.members ?? []);
  }

  memberAdd(peerURLs: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }> {
    return this.call('/v3/cluster/member/add', { peerURLs, isLearner });
  }

  memberRemove(id: string): Promise<unknown> {
    return this.call('/v3/cluster/member/remove', { ID: id });
  }

  memberPromote(id: string): Promise<unknown> {
    return this.call('/v3/cluster/member/promote', { ID: id });
  }
}

/**
 * Creates the root user and role and enables auth, as `etcdctl user add root` and
 * `etcdctl auth enable` do. Safe to repeat: an existing user, role or grant, or auth
 * that is already on (seen as a working root login), counts as done; auth that is on
 * with another root password is reported, never changed.
 */
export async function enableAuth(endpoint: string, tls: GatewayTls, password: string): Promise<'enabled' | 'already' | 'other-password'> {
  const probe = new Gateway(endpoint, tls);
  try {
    await probe.call('/v3/auth/authenticate', { name: 'root', password }, false);
    return 'already';
  } catch (err) {
    // on, but root's password was changed since: not ours to reset
    if (/authentication failed, invalid user ID or password/.test((err as Error).message)) return 'other-password';
    if (!/authentication is not enabled/.test((err as Error).message)) throw err;
  }
  const ignore = (pattern: RegExp) => (err: Error) => {
    if (!pattern.test(err.message)) throw err;
  };
  await probe.call('/v3/auth/user/add', { name: 'root', password }, false).catch(ignore(/user name already exists/));
  await probe.call('/v3/auth/role/add', { name: 'root' }, false).catch(ignore(/role name already exists/));
  await probe.call('/v3/auth/user/grant', { user: 'root', role: 'root' }, false).catch(ignore(/already/));
  await probe.call('/v3/auth/enable', {}, false);
  return 'enabled';
}
