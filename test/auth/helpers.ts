// A store on a fresh backend, and a stand-in for the log: prepare, encode the body the
// way the server puts it in the entry, decode it as every member does, apply.
import path from 'node:path';
import { Backend } from '../../src/backend/backend.js';
import { AUTH_CODECS, AuthField, type AuthFieldNumber, type AuthResponses, type ClientAuthRequests } from '../../src/auth/fields.js';
import { AuthStore, type AuthInfo, type AuthStoreOptions } from '../../src/auth/store.js';
import { tempDir } from '../helpers/tmp.js';

export interface Fixture {
  store: AuthStore;
  backend: Backend;
  dir: string;
  /** reopens the backend and a new store on it (a restart) */
  restart(opts?: AuthStoreOptions): Promise<void>;
  close(): Promise<void>;
}

export async function fixture(opts: AuthStoreOptions = {}): Promise<Fixture> {
  const { dir, cleanup } = tempDir('tsetcd-auth-');
  const file = path.join(dir, 'member/snap/db');
  const f: Fixture = {
    dir,
    backend: Backend.open(file),
    store: undefined as unknown as AuthStore,
    async restart(next = opts) {
      f.store.close();
      await f.backend.close();
      f.backend = Backend.open(file);
      f.store = new AuthStore(f.backend, { bcryptCost: 4, ...next });
    },
    async close() {
      f.store.close();
      await f.backend.close();
      cleanup();
    },
  };
  f.store = new AuthStore(f.backend, { bcryptCost: 4, ...opts });
  return f;
}

let index = 100;

/** prepare -> log bytes -> apply, as the user `caller` */
export async function run<F extends AuthFieldNumber>(
  store: AuthStore,
  field: F,
  req: ClientAuthRequests[F],
  caller?: AuthInfo,
): Promise<AuthResponses[F]> {
  const prepared = await store.prepare(field, req);
  const codec = AUTH_CODECS[field].request;
  const bytes = codec.encode(prepared);
  return store.apply(field, codec.decode(bytes), caller, ++index);
}

/** the message of the error `fn` fails with, or 'ok' */
export async function outcome(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  }
}

export const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** root (password "rootpw") with the root role, auth enabled */
export async function withRoot(store: AuthStore, caller?: AuthInfo): Promise<AuthInfo> {
  await run(store, AuthField.authUserAdd, { name: 'root', password: 'rootpw', hashedPassword: '' }, caller);
  await run(store, AuthField.authUserGrantRole, { user: 'root', role: 'root' }, caller);
  await run(store, AuthField.authEnable, {}, caller);
  return { username: 'root', revision: store.revision };
}
