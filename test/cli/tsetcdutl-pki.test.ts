// tsetcdutl pki print-defaults, version and certinfo -domain: the templates are cfssl's
// byte for byte (and gencert accepts the csr one), the list and the missing-argument error
// are cfssl's; certinfo -domain reads the chain a local TLS server presents, leaf first,
// says what cfssl certinfo -domain says, and a closed port is a clear error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { BIN, freePort, haveBinary, run } from './helpers.js';

const pki = (...args: string[]) => run(BIN.tsetcdutl, ['pki', ...args]);

test('print-defaults prints templates gencert accepts, the list, and errors as cfssl', async () => {
  const csr = await pki('print-defaults', 'csr');
  assert.equal(csr.code, 0);
  const req = JSON.parse(csr.stdout.toString()) as { CN: string; key: { algo: string } };
  assert.deepEqual([req.CN, req.key.algo], ['example.net', 'ecdsa']);
  const config = JSON.parse((await pki('print-defaults', 'config')).stdout.toString()) as { signing: { profiles: Record<string, unknown> } };
  assert.deepEqual(Object.keys(config.signing.profiles), ['www', 'client']);
  const made = await run(BIN.tsetcdutl, ['pki', 'gencert', '-initca', '-'], { stdin: csr.stdout });
  assert.equal(made.code, 0, made.stderr);
  assert.match(JSON.parse(made.stdout.toString()).cert, /^-----BEGIN CERTIFICATE-----\n/);

  const list = 'Default configurations are available for:\n\tconfig\n\tcsr\n';
  assert.equal((await pki('print-defaults', 'list')).stdout.toString(), list);
  const unknown = await pki('print-defaults', 'nope');
  assert.deepEqual([unknown.code, unknown.stdout.toString()], [0, list]);
  const none = await pki('print-defaults');
  assert.deepEqual([none.code, none.stderr], [1, 'not enough arguments are supplied --- please refer to the usage\n']);
  if (haveBinary('cfssl')) {
    // cfssl lists its templates from a Go map, in a different order on each run: the list
    // is compared as a set of lines, the templates byte for byte
    const lines = (b: Buffer | string): string[] => b.toString().split('\n').sort();
    for (const type of ['csr', 'config', 'list', 'nope']) {
      const theirs = spawnSync('cfssl', ['print-defaults', type]).stdout;
      const ours = (await pki('print-defaults', type)).stdout;
      if (type === 'csr' || type === 'config') assert.equal(ours.toString(), theirs.toString(), type);
      else assert.deepEqual(lines(ours), lines(theirs), type);
    }
  }
  assert.match((await pki('version')).stdout.toString(), /^Version: \S+\nRevision: \S+\nRuntime: node\S+\n$/);
});

test('certinfo -domain describes the chain a TLS server presents', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir('tsetcdutl-certinfo-');
  const server = tls.createServer({}, (s) => s.end());
  try {
    const sh = (cmd: string) => assert.equal(spawnSync('sh', ['-c', cmd], { cwd: dir }).status, 0, cmd);
    const P = `${BIN.tsetcdutl} pki`;
    fs.writeFileSync(path.join(dir, 'ca.json'), '{"CN": "test-ca", "key": {"algo": "ecdsa", "size": 256}}');
    fs.writeFileSync(path.join(dir, 'srv.json'), '{"CN": "srv", "hosts": ["127.0.0.1", "localhost"], "key": {"algo": "ecdsa", "size": 256}}');
    fs.writeFileSync(path.join(dir, 'cfg.json'), '{"signing": {"default": {"usages": ["signing", "key encipherment", "server auth"], "expiry": "8760h"}}}');
    sh(`${P} gencert -initca ca.json | ${P} json -bare ca`);
    sh(`${P} gencert -ca ca.pem -ca-key ca-key.pem -config cfg.json srv.json | ${P} json -bare srv`);
    const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
    server.setSecureContext({ key: read('srv-key.pem'), cert: read('srv.pem') + read('ca.pem') });
    const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
    const domain = `127.0.0.1:${port}`;

    const words = await pki('certinfo', '-domain', domain);
    assert.equal(words.code, 0, words.stderr);
    const subjects = [...words.stdout.toString().matchAll(/^ {2}Subject: +(.*)$/gm)].map((m) => m[1]);
    assert.deepEqual(subjects, ['CN=srv', 'CN=test-ca']);
    const remoteJson = (await pki('certinfo', '-domain', domain, '-json')).stdout.toString();
    assert.equal(remoteJson, (await pki('certinfo', '-cert', path.join(dir, 'srv.pem'), '-json')).stdout.toString());
    if (haveBinary('cfssl')) {
      // run, not spawnSync: the server answering it lives in this process
      const theirs = JSON.parse((await run('cfssl', ['certinfo', '-domain', domain])).stdout.toString()) as Record<string, unknown>;
      const ours = JSON.parse(remoteJson) as Record<string, unknown>;
      // Debian's cfssl 1.2 prints key ids without zero padding; ours pad, as newer cfssl
      for (const k of ['authority_key_id', 'subject_key_id']) assert.equal(String(ours[k]).replace(/\b0([0-9A-F])\b/g, '$1'), theirs[k]);
      assert.deepEqual({ ...ours, authority_key_id: 0, subject_key_id: 0 }, { ...theirs, authority_key_id: 0, subject_key_id: 0 });
    }
    const closed = await freePort();
    const refused = await pki('certinfo', '-domain', `127.0.0.1:${closed}`);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^Error: cannot fetch the certificate of 127\\.0\\.0\\.1:${closed}: connect ECONNREFUSED`));
    const badPort = await pki('certinfo', '-domain', '127.0.0.1:http');
    assert.deepEqual([badPort.code, badPort.stderr], [1, 'Error: -domain 127.0.0.1:http: "http" is not a port number\n']);
  } finally {
    server.close();
    cleanup();
  }
});
