// Simple tokens (format, TTL renewed on use, forgotten on user delete / password change /
// auth disable) with an injected clock, JWT tokens signed with RS256, ES256, PS256 and
// HS256 keys made here, and etcd's --auth-token parsing and its errors.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AuthField as F } from '../../src/auth/fields.js';
import { AuthConfigError } from '../../src/auth/errors.js';
import { JwtTokens } from '../../src/auth/jwt.js';
import { simpleTokenIndex } from '../../src/auth/simple-token.js';
import { parseAuthTokenOption } from '../../src/auth/tokens.js';
import { tempDir } from '../helpers/tmp.js';
import { bytes, fixture, outcome, run, withRoot } from './helpers.js';

class Clock {
  ms = Date.UTC(2024, 0, 1);
  now = () => this.ms;
  advance(sec: number): void {
    this.ms += sec * 1000;
  }
}

const INVALID = { message: 'etcdserver: invalid auth token' };

test('simple tokens: 16 letters, a dot, the log index; unique; TTL renewed by use', async () => {
  const clock = new Clock();
  const f = await fixture({ clock: clock.now, tokenTtlSec: 10 });
  try {
    const s = f.store;
    await withRoot(s);
    const prepared = await s.prepare(F.authenticate, { name: 'root', password: 'rootpw' });
    assert.match(prepared.simple_token, /^[A-Za-z]{16}$/);
    assert.equal(prepared.password, '', 'the password never reaches the log');
    const { token } = s.apply(F.authenticate, prepared, undefined, 4242);
    assert.equal(token, `${prepared.simple_token}.4242`);
    assert.equal(simpleTokenIndex(token), 4242);
    assert.equal(simpleTokenIndex('nodot'), undefined);

    const other = (await run(s, F.authenticate, { name: 'root', password: 'rootpw' })).token;
    assert.notEqual(other, token);

    clock.advance(9);
    assert.equal(s.authInfo(token)?.username, 'root', 'used within the TTL');
    clock.advance(9);
    assert.equal(s.authInfo(token)?.username, 'root', 'the last use renewed it');
    assert.throws(() => s.authInfo(other), INVALID, 'the unused one expired');
    clock.advance(10);
    assert.equal(s.authInfo(token)?.username, 'root', 'exactly at the TTL it still lives');
    clock.advance(10.001);
    assert.throws(() => s.authInfo(token), INVALID);
  } finally {
    await f.close();
  }
});

test('simple tokens die with the user, its password and auth itself', async () => {
  const f = await fixture();
  try {
    const s = f.store;
    const root = await withRoot(s);
    await run(s, F.authUserAdd, { name: 'alice', password: 'pw', hashedPassword: '' }, root);
    const login = async (name: string, password: string) => (await run(s, F.authenticate, { name, password })).token;

    const t1 = await login('alice', 'pw');
    const rootToken = await login('root', 'rootpw');
    await run(s, F.authUserChangePassword, { name: 'alice', password: 'pw2', hashedPassword: '' }, root);
    assert.throws(() => s.authInfo(t1), INVALID, 'password changed');
    assert.equal(s.authInfo(rootToken)?.username, 'root', "others' tokens stay");
    assert.equal(await outcome(() => login('alice', 'pw')), 'etcdserver: authentication failed, invalid user ID or password');

    const t2 = await login('alice', 'pw2');
    await run(s, F.authUserDelete, { name: 'alice' }, root);
    assert.throws(() => s.authInfo(t2), INVALID, 'user deleted');

    await run(s, F.authDisable, {}, root);
    await run(s, F.authEnable, {}, root);
    assert.throws(() => s.authInfo(rootToken), INVALID, 'auth disabled in between');
  } finally {
    await f.close();
  }
});

interface KeyFiles {
  pub: string;
  priv: string;
}

function writeKeys(dir: string, name: string, kp: { publicKey: string; privateKey: string }): KeyFiles {
  const pub = path.join(dir, `${name}.pub.pem`);
  const priv = path.join(dir, `${name}.pem`);
  fs.writeFileSync(pub, kp.publicKey);
  fs.writeFileSync(priv, kp.privateKey);
  return { pub, priv };
}

const rsa = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
// SEC1 ("EC PRIVATE KEY"), as openssl ecparam -genkey writes it
const ec = (namedCurve: string) =>
  generateKeyPairSync('ec', {
    namedCurve,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'sec1', format: 'pem' },
  });

async function jwtRoundTrip(method: string, keys: KeyFiles, foreign: KeyFiles): Promise<void> {
  const clock = new Clock();
  const opt = (k: Partial<KeyFiles>) =>
    ['jwt', `sign-method=${method}`, 'ttl=10m', ...(k.pub ? [`pub-key=${k.pub}`] : []), ...(k.priv ? [`priv-key=${k.priv}`] : [])].join(',');
  const f = await fixture({ token: opt(keys), clock: clock.now });
  try {
    const s = f.store;
    const root = await withRoot(s);
    await run(s, F.authRoleAdd, { name: 'r' }, root);
    await run(s, F.authRoleGrantPermission, { name: 'r', perm: { permType: 0, key: bytes('a'), range_end: bytes('b') } }, root);
    await run(s, F.authUserAdd, { name: 'alice', password: 'pw', hashedPassword: '' }, root);
    await run(s, F.authUserGrantRole, { user: 'alice', role: 'r' }, root);

    const prepared = await s.prepare(F.authenticate, { name: 'alice', password: 'pw' });
    assert.equal(prepared.simple_token, '', 'JWT needs no prefix');
    const { token } = s.apply(F.authenticate, prepared, undefined, 9);
    const [h, c] = token.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { alg: method, typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(c!, 'base64url').toString());
    assert.deepEqual(Object.keys(claims), ['exp', 'revision', 'username']);
    assert.equal(claims.exp, Math.floor(clock.ms / 1000) + 600);

    const ai = s.authInfo(token)!;
    assert.deepEqual(ai, { username: 'alice', revision: s.revision });
    s.checkRange(ai, bytes('a1'), bytes(''));

    // tampered claims, an unsigned token, another key's token: all refused
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, username: 'root' })).toString('base64url')}.${token.split('.')[2]}`;
    assert.throws(() => s.authInfo(forged), INVALID);
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${c}.`;
    assert.throws(() => s.authInfo(none), INVALID);
    const g = await fixture({ token: opt(foreign), clock: clock.now });
    try {
      await withRoot(g.store);
      await run(g.store, F.authUserAdd, { name: 'alice', password: 'pw', hashedPassword: '' }, root);
      const theirs = (await run(g.store, F.authenticate, { name: 'alice', password: 'pw' })).token;
      assert.throws(() => s.authInfo(theirs), INVALID, 'signed with another key');
      assert.throws(() => g.store.authInfo(token), INVALID, 'and the other way round');
    } finally {
      await g.close();
    }

    // a member with only the public key verifies, but cannot issue
    if (!method.startsWith('HS')) {
      const v = await fixture({ token: opt({ pub: keys.pub }), clock: clock.now });
      try {
        await withRoot(v.store);
        assert.equal(v.store.authInfo(token)?.username, 'alice');
        assert.equal(await outcome(() => run(v.store, F.authenticate, { name: 'root', password: 'rootpw' })), 'auth: token signing attempted with verify-only key');
      } finally {
        await v.close();
      }
    }

    // any auth change makes the token's revision old; expiry ends it
    await run(s, F.authRoleAdd, { name: 'r2' }, root);
    assert.throws(() => s.checkRange(s.authInfo(token), bytes('a1'), bytes('')), { message: 'etcdserver: revision of auth store is old' });
    clock.advance(600);
    assert.equal(s.authInfo(token)?.username, 'alice', 'valid through its exp second');
    clock.advance(1);
    assert.throws(() => s.authInfo(token), INVALID, 'expired');
  } finally {
    await f.close();
  }
}

test('JWT with RS256 keys', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await jwtRoundTrip('RS256', writeKeys(dir, 'a', rsa()), writeKeys(dir, 'b', rsa()));
  } finally {
    cleanup();
  }
});

test('JWT with ES256 keys', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await jwtRoundTrip('ES256', writeKeys(dir, 'a', ec('prime256v1')), writeKeys(dir, 'b', ec('prime256v1')));
  } finally {
    cleanup();
  }
});

test('JWT with PS384 and ES512 and HS256 keys', async () => {
  const { dir, cleanup } = tempDir();
  try {
    await jwtRoundTrip('PS384', writeKeys(dir, 'a', rsa()), writeKeys(dir, 'b', rsa()));
    await jwtRoundTrip('ES512', writeKeys(dir, 'c', ec('secp521r1')), writeKeys(dir, 'd', ec('secp521r1')));
    const secret = (name: string, s: string) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, s);
      return { pub: '', priv: p };
    };
    await jwtRoundTrip('HS256', secret('s1', 'one secret'), secret('s2', 'another secret'));
  } finally {
    cleanup();
  }
});

test("--auth-token parsing and its errors, as etcd's", () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = writeKeys(dir, 'a', rsa());
    const b = writeKeys(dir, 'b', rsa());
    const e = writeKeys(dir, 'e', ec('secp384r1'));
    assert.deepEqual(parseAuthTokenOption('simple'), { kind: 'simple' });
    assert.deepEqual(parseAuthTokenOption(''), { kind: 'nop' });
    const jwt = parseAuthTokenOption(`jwt,pub-key=${a.pub},priv-key=${a.priv},sign-method=RS512,ttl=1h30m`);
    assert.equal(jwt.kind, 'jwt');
    assert.ok(jwt.kind === 'jwt' && jwt.signMethod === 'RS512' && jwt.ttlMs === 90 * 60 * 1000);
    const dflt = parseAuthTokenOption(`jwt,priv-key=${a.priv},sign-method=RS256`);
    assert.ok(dflt.kind === 'jwt' && dflt.ttlMs === 5 * 60 * 1000, "etcd's default TTL");
    const warned: unknown[] = [];
    parseAuthTokenOption(`jwt,priv-key=${a.priv},sign-method=RS256,colour=blue`, (m, f) => warned.push([m, f]));
    assert.deepEqual(warned, [['unknown JWT options', { keys: ['colour'] }]]);

    const err = (token: string): string => {
      try {
        const cfg = parseAuthTokenOption(token);
        if (cfg.kind === 'jwt') new JwtTokens(cfg, Date.now);
        return 'ok';
      } catch (e) {
        assert.ok(e instanceof AuthConfigError, String(e));
        return e.message;
      }
    };
    const cases: [string, string][] = [
      ['bogus', 'auth: invalid auth options'],
      ['jwt,sign-method', 'auth: invalid auth options'],
      ['jwt,sign-method=RS256,sign-method=RS256', 'auth: invalid auth options'],
      ['jwt,sign-method=a=b', 'auth: invalid auth options'],
      [`jwt,priv-key=${a.priv}`, 'auth: invalid auth options'],
      [`jwt,priv-key=${a.priv},sign-method=XX256`, 'auth: invalid auth options'],
      [`jwt,priv-key=${a.priv},sign-method=RS256,ttl=ten`, 'auth: invalid auth options'],
      [`jwt,priv-key=${path.join(dir, 'missing')},sign-method=RS256`, 'auth: invalid auth options'],
      ['jwt,sign-method=RS256', 'auth: missing key data'],
      ['jwt,sign-method=HS256', 'auth: missing key data'],
      [`jwt,pub-key=${b.pub},priv-key=${a.priv},sign-method=RS256`, "auth: public and private keys don't match"],
      [`jwt,priv-key=${e.priv},sign-method=RS256`, 'Key is not a valid RSA private key'],
      [`jwt,priv-key=${e.priv},sign-method=ES256`, 'auth: ES256 needs a key on curve prime256v1'],
      [`jwt,pub-key=${a.pub},priv-key=${a.priv},sign-method=PS256`, 'ok'],
      [`jwt,priv-key=${e.priv},sign-method=ES384`, 'ok'],
    ];
    assert.deepEqual(
      cases.map(([t]) => [t, err(t)]),
      cases,
    );
  } finally {
    cleanup();
  }
});

test('nop tokens: nothing is issued', async () => {
  const f = await fixture({ token: '' });
  try {
    await withRoot(f.store);
    assert.equal(await outcome(() => run(f.store, F.authenticate, { name: 'root', password: 'rootpw' })), 'etcdserver: authentication failed, invalid user ID or password');
    assert.throws(() => f.store.authInfo('x.1'), INVALID);
  } finally {
    await f.close();
  }
});
