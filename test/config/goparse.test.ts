// The Go-compatible number and duration parsers, and URL normalisation.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, parseGoBool, parseGoDuration, parseGoInt, parseGoUint } from '../../src/config/goparse.js';
import { parseEtcdUrl, parseUrlsMap, splitHostPort } from '../../src/config/urls.js';

describe('parseGoUint / parseGoInt', () => {
  it('infers the base from the prefix', () => {
    assert.deepEqual(parseGoUint('0x1F', 64), { ok: true, value: 31 });
    assert.deepEqual(parseGoUint('0X1f', 64), { ok: true, value: 31 });
    assert.deepEqual(parseGoUint('017', 64), { ok: true, value: 15 });
    assert.deepEqual(parseGoUint('0', 64), { ok: true, value: 0 });
    assert.deepEqual(parseGoUint('0x', 64), { ok: false, reason: 'syntax' });
    assert.deepEqual(parseGoUint('08', 64), { ok: false, reason: 'syntax' });
  });

  it('allows underscores only between digits', () => {
    assert.deepEqual(parseGoUint('1_000', 64), { ok: true, value: 1000 });
    assert.deepEqual(parseGoUint('0x_ff', 64), { ok: true, value: 255 });
    assert.deepEqual(parseGoUint('1__0', 64), { ok: false, reason: 'syntax' });
    assert.deepEqual(parseGoUint('_1', 64), { ok: false, reason: 'syntax' });
    assert.deepEqual(parseGoUint('1_', 64), { ok: false, reason: 'syntax' });
  });

  it('checks ranges', () => {
    assert.deepEqual(parseGoUint('4294967295', 32), { ok: true, value: 4294967295 });
    assert.deepEqual(parseGoUint('4294967296', 32), { ok: false, reason: 'range' });
    assert.deepEqual(parseGoUint('-1', 64), { ok: false, reason: 'syntax' });
    assert.deepEqual(parseGoUint('', 64), { ok: false, reason: 'syntax' });
    assert.deepEqual(parseGoInt('-9223372036854775809', 64), { ok: false, reason: 'range' });
    assert.deepEqual(parseGoInt('-42', 64), { ok: true, value: -42 });
    assert.deepEqual(parseGoInt('+42', 64), { ok: true, value: 42 });
  });
});

describe('parseGoBool', () => {
  it('knows exactly Go\'s spellings', () => {
    assert.equal(parseGoBool('True'), true);
    assert.equal(parseGoBool('F'), false);
    assert.equal(parseGoBool('yes'), undefined);
    assert.equal(parseGoBool('tRUE'), undefined);
  });
});

describe('parseGoDuration', () => {
  it('parses Go durations', () => {
    assert.deepEqual(parseGoDuration('1h30m'), { ok: true, ns: 5.4e12 });
    assert.deepEqual(parseGoDuration('1.5s'), { ok: true, ns: 1.5e9 });
    assert.deepEqual(parseGoDuration('.5ms'), { ok: true, ns: 5e5 });
    assert.deepEqual(parseGoDuration('10µs'), { ok: true, ns: 1e4 });
    assert.deepEqual(parseGoDuration('-2m'), { ok: true, ns: -1.2e11 });
    assert.deepEqual(parseGoDuration('0'), { ok: true, ns: 0 });
  });

  it('uses Go\'s error texts', () => {
    assert.deepEqual(parseGoDuration(''), { ok: false, message: 'time: invalid duration ""' });
    assert.deepEqual(parseGoDuration('abc'), { ok: false, message: 'time: invalid duration "abc"' });
    assert.deepEqual(parseGoDuration('5'), { ok: false, message: 'time: missing unit in duration "5"' });
    assert.deepEqual(parseGoDuration('5d'), { ok: false, message: 'time: unknown unit "d" in duration "5d"' });
    assert.deepEqual(parseGoDuration('.s'), { ok: false, message: 'time: invalid duration ".s"' });
    assert.deepEqual(parseGoDuration('9999999999h'), { ok: false, message: 'time: invalid duration "9999999999h"' });
  });

  it('formats like Duration.String', () => {
    assert.equal(formatGoDuration(7.2e12), '2h0m0s');
    assert.equal(formatGoDuration(5e9), '5s');
    assert.equal(formatGoDuration(1e8), '100ms');
    assert.equal(formatGoDuration(0), '0s');
  });
});

describe('etcd URLs', () => {
  it('prints them as Go does, without a trailing slash', () => {
    const r = parseEtcdUrl('HTTPS://Node1:2379');
    assert.ok(r.ok);
    assert.equal(r.url.text, 'https://Node1:2379');
    assert.equal(r.url.hostname, 'Node1');
    assert.equal(r.url.port, '2379');
  });

  it('explains a missing scheme', () => {
    assert.deepEqual(parseEtcdUrl(':2379'), { ok: false, message: 'parse ":2379": missing protocol scheme' });
    assert.deepEqual(parseEtcdUrl('http://h:x'), { ok: false, message: 'parse "http://h:x": invalid port ":x" after host' });
  });

  it('splits host and port like net.SplitHostPort', () => {
    assert.deepEqual(splitHostPort('[::1]:80'), { host: '::1', port: '80' });
    assert.deepEqual(splitHostPort('a:80'), { host: 'a', port: '80' });
    assert.equal(splitHostPort('a'), undefined);
    assert.equal(splitHostPort('a:b:80'), undefined);
  });

  it('reads name=url lists, skipping empty items and grouping repeated names', () => {
    const r = parseUrlsMap('a=http://10.0.0.1:2380,,a=http://10.0.0.0:2380,b=http://10.0.0.2:2380');
    assert.ok(r.ok);
    assert.deepEqual(
      [...r.members].map(([n, us]) => [n, us.map((u) => u.text)]),
      [
        ['a', ['http://10.0.0.0:2380', 'http://10.0.0.1:2380']],
        ['b', ['http://10.0.0.2:2380']],
      ],
    );
    assert.deepEqual(parseUrlsMap('a'), { ok: false, message: 'URL scheme must be http, https, unix, or unixs: ' });
  });
});
