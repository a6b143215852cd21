// Proves that the lines typed for `txn` and `watch -i` are split and unquoted as etcdctl
// does it with Go: strconv.Unquote's escapes and errors, fmt's %q scanning (raw
// strings, a space in the format needing one in the input), argify's words, and the
// parsed compares and requests that become the transaction.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Compare_CompareResult, Compare_CompareTarget } from '../../src/proto/etcdserverpb.js';
import { argify, goUnquote, GoScanError, GoScanner } from '../../src/cli/ctl/go-scan.js';
import { CtlExit, type Io } from '../../src/cli/ctl/io.js';
import { parseCompare, parseRequest } from '../../src/cli/ctl/txn-command.js';

const io: Io = { out: () => {}, err: () => {}, readStdin: async () => Buffer.alloc(0), env: [] };

test('goUnquote decodes Go escapes to bytes and refuses what Go refuses', () => {
  assert.deepEqual(goUnquote('"a\\tb\\x00\\xff\\u00e9\\101"'), Buffer.from([0x61, 0x09, 0x62, 0x00, 0xff, 0xc3, 0xa9, 0x41]));
  assert.deepEqual(goUnquote('`raw\\n`'), Buffer.from('raw\\n'));
  for (const bad of ['"\\q"', '"a"b"', '"\\x4"', '"\\400"', "'a'", '"\\\'"']) assert.throws(() => goUnquote(bad), GoScanError, bad);
});

test('argify splits words, keeps quoted spaces and strips single quotes', () => {
  assert.deepEqual(argify(`put "a b" 'c d' e\\"f`), ['put', 'a b', 'c d', 'e\\"f']);
  assert.deepEqual(argify('get  "x\\ty"   --prefix'), ['get', 'x\ty', '--prefix']);
  assert.deepEqual(argify('   '), []);
});

test('a space in the scan format needs white space in the input', () => {
  const sc = new GoScanner('"k")=x');
  assert.deepEqual(sc.quoted(), Buffer.from('k'));
  sc.literal(')');
  assert.throws(() => sc.spaces(), /expected space in input to match format/);
});

function exitOf(fn: () => unknown): CtlExit {
  try {
    fn();
  } catch (err) {
    if (err instanceof CtlExit) return err;
    throw err;
  }
  assert.fail('no exit');
}

test('compares parse to their targets and results; bad ones exit 3 with etcdctl’s text', () => {
  const c = parseCompare('mod("key") > "12"', io);
  assert.equal(c.target, Compare_CompareTarget.MOD);
  assert.equal(c.result, Compare_CompareResult.GREATER);
  assert.equal(c.mod_revision, 12);
  assert.deepEqual(Buffer.from(c.key), Buffer.from('key'));
  const v = parseCompare('value("k") != "a\\x01"', io);
  assert.equal(v.target, Compare_CompareTarget.VALUE);
  assert.deepEqual(Buffer.from(v.value!), Buffer.from([0x61, 0x01]));
  const missing = exitOf(() => parseCompare('mod("k")="1"', io));
  assert.equal(missing.code, 3);
  assert.equal(missing.errorText, 'malformed comparison: mod("k")="1"; got mod("k")  ""');
  assert.equal(exitOf(() => parseCompare('foo("k") = "1"', io)).errorText, 'malformed comparison: foo("k") = "1" (unknown target foo)');
  assert.equal(exitOf(() => parseCompare('ver("k") = "x"', io)).errorText, 'invalid txn compare request: ver("k") = "x"');
});

test('request lines become put, get and delete operations with their flags', () => {
  const put = parseRequest('put "sp ace" v --prev-kv', io);
  assert.deepEqual(Buffer.from(put.request_put!.key), Buffer.from('sp ace'));
  assert.equal(put.request_put!.prev_kv, true);
  const get = parseRequest('get pre --prefix --limit=2', io);
  assert.deepEqual(Buffer.from(get.request_range!.range_end), Buffer.from('prf'));
  assert.equal(get.request_range!.limit, 2);
  const del = parseRequest('del a z', io);
  assert.deepEqual(Buffer.from(del.request_delete_range!.range_end), Buffer.from('z'));
  assert.equal(exitOf(() => parseRequest('foo bar', io)).errorText, 'invalid txn request: foo bar');
  assert.equal(exitOf(() => parseRequest('get', io)).errorText, 'invalid txn compare request: get');
  assert.equal(exitOf(() => parseRequest('put k', io)).code, 128);
});
