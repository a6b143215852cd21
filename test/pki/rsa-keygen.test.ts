// RSA keys built from two OpenSSL primes (src/pki/rsa-keygen.ts) are real RSA keys of the
// size asked for: OpenSSL's own consistency check (`openssl rsa -check`: p and q prime,
// n = p·q, d·e ≡ 1, the CRT values) accepts them, e is 65537, they sign what their public
// half verifies, and Go (cfssl certinfo through the pki tests) reads them. Unsuitable prime
// pairs (equal, or too close together) are refused rather than made into a weak key.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { checkPrimeSync, createPublicKey, generatePrimeSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import { test } from 'node:test';
import { generateRsaKey, rsaKeyFromPrimes } from '../../src/pki/rsa-keygen.js';

test('generated RSA keys pass openssl rsa -check and have the size asked for', async () => {
  for (const bits of [2048, 3072, 2049]) {
    const key = await generateRsaKey(bits);
    const details = key.asymmetricKeyDetails!;
    assert.equal(details.modulusLength, bits);
    assert.equal(details.publicExponent, 65537n);
    const pem = key.export({ type: 'pkcs1', format: 'pem' }).toString();
    const check = spawnSync('openssl', ['rsa', '-check', '-noout'], { input: pem, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /RSA key ok/);
    const secret = Buffer.from(`secret for ${bits}`);
    assert.deepEqual(privateDecrypt(key, publicEncrypt(createPublicKey(key), secret)), secret);
  }
});

test('two keys are never the same', async () => {
  const [a, b] = await Promise.all([generateRsaKey(2048), generateRsaKey(2048)]);
  assert.notEqual(a.export({ type: 'pkcs1', format: 'pem' }).toString(), b.export({ type: 'pkcs1', format: 'pem' }).toString());
});

test('prime pairs that would make a weak or wrong key are refused', () => {
  const p = generatePrimeSync(1024, { bigint: true });
  const q = generatePrimeSync(1024, { bigint: true });
  assert.ok(rsaKeyFromPrimes(p, q, 2048), 'two random primes make a key');
  assert.equal(rsaKeyFromPrimes(p, p, 2048), undefined, 'p = q');
  // the next prime after p: |p - q| is tiny, and n = p·q could be factored by Fermat's method
  let next = p + 2n;
  while (!checkPrimeSync(next)) next += 2n;
  assert.equal(rsaKeyFromPrimes(p, next, 2048), undefined, 'p and q too close');
  assert.equal(rsaKeyFromPrimes(p, q, 2050), undefined, 'n of another size than asked');
});
