// Command-line syntax: Go's flag package rules, checked against etcd 3.4.23's
// own messages (the expected strings below were printed by the real binary).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fails, ok, run } from './helpers.js';

describe('flag syntax', () => {
  it('accepts -flag, --flag, --flag=value and --flag value alike', () => {
    assert.equal(ok(['-name', 'a']).name, 'a');
    assert.equal(ok(['--name', 'a']).name, 'a');
    assert.equal(ok(['--name=a']).name, 'a');
    assert.equal(ok(['-name=a']).name, 'a');
  });

  it('keeps everything after the first = as the value', () => {
    const c = ok(['--initial-cluster-token=a=b']);
    assert.equal(c.initialClusterToken, 'a=b');
  });

  it('lets the last occurrence of a flag win', () => {
    assert.equal(ok(['--name', 'a', '--name', 'b']).name, 'b');
  });

  it('takes the next argument as a value even when it looks like a flag', () => {
    assert.equal(ok(['--name', '--data-dir']).name, '--data-dir');
  });

  it('treats a bare boolean flag as true and takes only =value forms', () => {
    assert.equal(ok(['--debug']).debug, true);
    for (const t of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(ok([`--debug=${t}`]).debug, true, t);
    for (const f of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(ok([`--debug=${f}`]).debug, false, f);
  });

  it('does not let a boolean flag consume the next argument', () => {
    // etcd: "error verifying flags, 'false' is not a valid flag. See 'etcd --help'." (exit 1)
    const e = fails(['--debug', 'false']);
    assert.equal(e.message, "'false' is not a valid flag");
    assert.equal(e.exitCode, 1);
  });

  it('rejects a bad boolean spelling with Go flag wording', () => {
    const e = fails(['--debug=yes']);
    assert.equal(e.message, 'invalid boolean value "yes" for -debug: parse error');
    assert.equal(e.exitCode, 2);
    assert.equal(e.usage, true);
    assert.equal(fails(['--debug=']).message, 'invalid boolean value "" for -debug: parse error');
  });

  it('reports an unknown flag like etcd, exit 2 with usage', () => {
    const e = fails(['--bogus']);
    assert.deepEqual(e, { message: 'flag provided but not defined: -bogus', exitCode: 2, usage: true });
    assert.equal(fails(['-bogus=3']).message, 'flag provided but not defined: -bogus');
  });

  it('reports a missing value', () => {
    assert.deepEqual(fails(['--name']), { message: 'flag needs an argument: -name', exitCode: 2, usage: true });
  });

  it('reports bad flag syntax', () => {
    assert.equal(fails(['---name']).message, 'bad flag syntax: ---name');
    assert.equal(fails(['-=x']).message, 'bad flag syntax: -=x');
  });

  it('stops at the first positional argument and refuses it (exit 1)', () => {
    assert.deepEqual(fails(['--data-dir', '/tmp/x', 'foo']), { message: "'foo' is not a valid flag", exitCode: 1 });
    assert.equal(fails(['-']).message, "'-' is not a valid flag");
    assert.equal(fails(['foo', '--bogus']).message, "'foo' is not a valid flag");
  });

  it('ends flags at -- and treats the rest as positional', () => {
    assert.equal(fails(['--', '--name']).message, "'--name' is not a valid flag");
    assert.equal(ok(['--name', 'a', '--']).name, 'a');
  });

  it('answers -h, -help, --h and --help with the help action, whatever the value', () => {
    for (const h of ['-h', '--h', '-help', '--help', '--help=false']) {
      const r = run([h]);
      assert.equal(r.action, 'help', h);
      assert.equal(r.error, undefined);
    }
  });

  it('processes flags in order, so an earlier error beats a later --help', () => {
    assert.equal(fails(['--bogus', '--help']).message, 'flag provided but not defined: -bogus');
    assert.equal(run(['--help', '--bogus']).action, 'help');
  });

  it('answers --version after the whole command line parsed', () => {
    assert.equal(run(['--version']).action, 'version');
    assert.equal(run(['--version=false', '--version']).action, 'version');
    assert.equal(run(['--version=false']).action, undefined);
    assert.equal(fails(['--version', 'foo']).message, "'foo' is not a valid flag");
    assert.equal(fails(['--version', '--bogus']).exitCode, 2);
  });

  it('warns about flags etcd keeps only for old scripts', () => {
    const r = run(['-v', '-config=/x']);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.warnings.slice(0, 2), [
      'flag "-v" is no longer supported - ignoring.',
      'flag "-config" is no longer supported - ignoring.',
    ]);
  });
});

describe('flag values', () => {
  it('parses unsigned integers like strconv.ParseUint with base 0', () => {
    assert.equal(ok(['--max-txn-ops=0x10']).maxTxnOps, 16);
    assert.equal(ok(['--max-txn-ops=010']).maxTxnOps, 8);
    assert.equal(ok(['--max-txn-ops=0b11']).maxTxnOps, 3);
    assert.equal(ok(['--max-txn-ops=0o17']).maxTxnOps, 15);
    assert.equal(ok(['--max-txn-ops=1_000']).maxTxnOps, 1000);
  });

  it('rejects bad numbers with Go flag wording', () => {
    assert.equal(fails(['--heartbeat-interval=x']).message, 'invalid value "x" for flag -heartbeat-interval: parse error');
    assert.equal(fails(['--heartbeat-interval', '-5']).message, 'invalid value "-5" for flag -heartbeat-interval: parse error');
    assert.equal(fails(['--election-timeout', '1e3']).message, 'invalid value "1e3" for flag -election-timeout: parse error');
    assert.equal(fails(['--snapshot-count=1_000x']).message, 'invalid value "1_000x" for flag -snapshot-count: parse error');
    assert.equal(
      fails(['--heartbeat-interval', '99999999999999999999']).message,
      'invalid value "99999999999999999999" for flag -heartbeat-interval: value out of range',
    );
  });

  it('accepts signed integers where etcd declares int64', () => {
    assert.equal(ok(['--quota-backend-bytes=-5']).quotaBackendBytes, -5);
    assert.equal(ok(['--quota-backend-bytes=+0x10']).quotaBackendBytes, 16);
  });

  it('passes strconv errors through for the uint32 flag, as etcd does', () => {
    assert.equal(
      fails(['--max-concurrent-streams=x']).message,
      'invalid value "x" for flag -max-concurrent-streams: strconv.ParseUint: parsing "x": invalid syntax',
    );
    assert.equal(
      fails(['--max-concurrent-streams=4294967296']).message,
      'invalid value "4294967296" for flag -max-concurrent-streams: strconv.ParseUint: parsing "4294967296": value out of range',
    );
  });

  it('parses durations like time.ParseDuration and reports parse error', () => {
    assert.equal(fails(['--backend-batch-interval=5']).message, 'invalid value "5" for flag -backend-batch-interval: parse error');
  });

  it('limits choice flags to their values', () => {
    assert.equal(fails(['--initial-cluster-state', 'foo']).message, 'invalid value "foo" for flag -initial-cluster-state: invalid value');
    assert.equal(fails(['--proxy=foo']).message, 'invalid value "foo" for flag -proxy: invalid value');
    assert.equal(ok(['--initial-cluster-state=existing']).initialClusterState, 'existing');
  });

  it('rejects URLs etcd rejects, with its messages', () => {
    const cases: [string, string][] = [
      ['127.0.0.1:2379', 'parse "127.0.0.1:2379": first path segment in URL cannot contain colon'],
      ['localhost:2379', 'URL scheme must be http, https, unix, or unixs: localhost:2379'],
      ['http://127.0.0.1', 'URL address does not have the form "host:port": http://127.0.0.1'],
      ['http://127.0.0.1:2379/', 'URL must not contain a path: http://127.0.0.1:2379/'],
      ['tcp://127.0.0.1:2379', 'URL scheme must be http, https, unix, or unixs: tcp://127.0.0.1:2379'],
      ['http://a b:1', 'parse "http://a b:1": invalid character " " in host name'],
    ];
    for (const [url, why] of cases) {
      assert.equal(fails(['--listen-client-urls', url]).message, `invalid value "${url}" for flag -listen-client-urls: ${why}`);
    }
  });

  it('trims, lower-cases the scheme, sorts and keeps URL lists', () => {
    const c = ok([
      '--listen-client-urls',
      ' HTTP://127.0.0.1:2379 , http://127.0.0.1:2378',
      '--advertise-client-urls',
      'http://127.0.0.1:2379',
    ]);
    assert.deepEqual(c.values.get('listen-client-urls'), ['http://127.0.0.1:2378', 'http://127.0.0.1:2379']);
    assert.equal(c.listenClientUrls[0]!.port, '2378');
    assert.ok(c.listenClientUrls.every((u) => u instanceof URL));
  });

  it('accepts IPv6 literals and unix sockets', () => {
    const c = ok([
      '--listen-client-urls=http://[::1]:2379,unix://localhost:2379',
      '--advertise-client-urls=http://[::1]:2379',
    ]);
    assert.deepEqual(c.values.get('listen-client-urls'), ['http://[::1]:2379', 'unix://localhost:2379']);
    assert.equal(c.advertiseClientUrls[0]!.hostname, '[::1]');
  });

  it('splits, deduplicates and sorts --log-outputs', () => {
    assert.deepEqual(ok(['--log-outputs=stdout,/tmp/a.log,stdout']).logOutputs, ['/tmp/a.log', 'stdout']);
  });
});
