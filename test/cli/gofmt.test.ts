// The Go formats tsetcdctl reproduces, checked against values Go itself prints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Flag, FlagError, FlagSet } from '../../src/cli/ctl/flags.js';
import {
  goDuration,
  goJson,
  goJsonString,
  goQuote,
  humanizeBytes,
  parseGoBool,
  parseGoDuration,
  parseGoInt64,
} from '../../src/cli/ctl/gofmt.js';
import { renderTable } from '../../src/cli/ctl/table.js';
import { alignTabs } from '../../src/cli/ctl/tabwriter.js';
import { prefixEnd } from '../../src/cli/ctl/kv-commands.js';

test('time.Duration.String', () => {
  const cases: Array<[bigint, string]> = [
    [0n, '0s'],
    [1n, '1ns'],
    [999n, '999ns'],
    [1000n, '1µs'],
    [1500n, '1.5µs'],
    [996_936n, '996.936µs'],
    [1_512_196n, '1.512196ms'],
    [1_000_000_000n, '1s'],
    [1_000_697_445n, '1.000697445s'],
    [90_000_000_000n, '1m30s'],
    [3_600_000_000_000n, '1h0m0s'],
    [-1_500_000n, '-1.5ms'],
  ];
  for (const [ns, text] of cases) assert.equal(goDuration(ns), text);
});

test('time.ParseDuration and its errors', () => {
  assert.equal(parseGoDuration('5s'), 5_000_000_000n);
  assert.equal(parseGoDuration('500ms'), 500_000_000n);
  assert.equal(parseGoDuration('1.5h'), 5_400_000_000_000n);
  assert.equal(parseGoDuration('1m30s'), 90_000_000_000n);
  assert.equal(parseGoDuration('0'), 0n);
  assert.equal(parseGoDuration('-2µs'), -2000n);
  assert.throws(() => parseGoDuration('abc'), { message: 'time: invalid duration "abc"' });
  assert.throws(() => parseGoDuration('5'), { message: 'time: missing unit in duration "5"' });
  assert.throws(() => parseGoDuration('5x'), { message: 'time: unknown unit "x" in duration "5x"' });
  assert.throws(() => parseGoDuration(''), { message: 'time: invalid duration ""' });
});

test('go-humanize Bytes rounds like Go (a tie to even)', () => {
  assert.equal(humanizeBytes(0), '0 B');
  assert.equal(humanizeBytes(9), '9 B');
  assert.equal(humanizeBytes(20480), '20 kB'); // 20.5 → 20
  assert.equal(humanizeBytes(21504), '22 kB'); // 21.5 → 22
  assert.equal(humanizeBytes(4096), '4.1 kB');
  assert.equal(humanizeBytes(1000), '1.0 kB');
  assert.equal(humanizeBytes(2_000_000_000), '2.0 GB');
});

test('strconv.Quote of bytes', () => {
  assert.equal(goQuote('plain'), '"plain"');
  assert.equal(goQuote(Buffer.from([0x76, 0x09, 0x01, 0xc3, 0xa9, 0xff])), '"v\\t\\x01é\\xff"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('\u00a0\u2028\u{1f600}\x7f'), '"\\u00a0\\u2028\u{1f600}\\x7f"');
});

test('encoding/json strings and structs', () => {
  assert.equal(goJsonString('<a&b>"\n\u2028é\x01'), '"\\u003ca\\u0026b\\u003e\\"\\n\\u2028é\\u0001"');
  const msg = { header: { cluster_id: 14841639068965178418n, member_id: 0n, revision: 3, raft_term: 0 }, kvs: [], more: false, count: 0 };
  assert.equal(goJson(msg), '{"header":{"cluster_id":14841639068965178418,"revision":3}}');
  assert.equal(goJson({ key: Buffer.from('foo'), value: new Uint8Array(0), sub: {} }), '{"key":"Zm9v","sub":{}}');
});

test('strconv number and bool parsing', () => {
  assert.equal(parseGoInt64('0x10', 0), 16n);
  assert.equal(parseGoInt64('010', 0), 8n);
  assert.equal(parseGoInt64('1_000', 0), 1000n);
  assert.equal(parseGoInt64('-ff', 16), -255n);
  assert.throws(() => parseGoInt64('2x', 0), { message: 'strconv.ParseInt: parsing "2x": invalid syntax' });
  assert.throws(() => parseGoInt64('zz', 16), { message: 'strconv.ParseInt: parsing "zz": invalid syntax' });
  assert.throws(() => parseGoInt64('9223372036854775808', 10), { message: 'strconv.ParseInt: parsing "9223372036854775808": value out of range' });
  assert.equal(parseGoBool('T'), true);
  assert.throws(() => parseGoBool('maybe'), { message: 'strconv.ParseBool: parsing "maybe": invalid syntax' });
});

test('pflag syntax: values, booleans, shorthands, --, and its error texts', () => {
  const make = () =>
    new FlagSet([
      new Flag({ name: 'write-out', short: 'w', kind: 'string', def: 'simple', usage: '' }),
      new Flag({ name: 'prefix', kind: 'bool', def: 'false', usage: '' }),
      new Flag({ name: 'limit', kind: 'int64', def: '0', usage: '' }),
      new Flag({ name: 'endpoints', kind: 'stringSlice', def: '127.0.0.1:2379', usage: '' }),
    ]);
  const fs = make();
  assert.deepEqual(fs.parse(['get', '-wjson', 'a', '--prefix', '--limit', '3', '--endpoints=x,y', '--endpoints', 'z', '--', '--prefix']), ['get', 'a', '--prefix']);
  assert.equal(fs.get('write-out').string, 'json');
  assert.equal(fs.get('prefix').bool, true);
  assert.equal(fs.get('limit').int64, 3n);
  assert.deepEqual(fs.get('endpoints').strings, ['x', 'y', 'z']);
  const err = (args: string[]) => {
    try {
      make().parse(args);
    } catch (e) {
      assert.ok(e instanceof FlagError);
      return e.message;
    }
    return 'no error';
  };
  assert.equal(err(['--bogus']), 'unknown flag: --bogus');
  assert.equal(err(['-x']), "unknown shorthand flag: 'x' in -x");
  assert.equal(err(['-w']), "flag needs an argument: 'w' in -w");
  assert.equal(err(['--limit']), 'flag needs an argument: --limit');
  assert.equal(err(['--limit=2x']), 'invalid argument "2x" for "--limit" flag: strconv.ParseInt: parsing "2x": invalid syntax');
  assert.equal(err(['-w=']), 'no error');
  assert.equal(err(['--prefix=maybe']), 'invalid argument "maybe" for "--prefix" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  // how cobra finds sub-commands before parsing: an unknown flag takes the next word
  assert.deepEqual(make().nonFlagWords(['-w', 'json', 'get', 'foo']), ['get', 'foo']);
  assert.deepEqual(make().nonFlagWords(['--help', 'get', 'foo']), ['foo']);
  assert.deepEqual(make().nonFlagWords(['--prefix', 'get', '--', 'x']), ['get']);
});

test("text/tabwriter with etcdctl's help settings", () => {
  assert.equal(alignTabs('OPTIONS:\n  -h, --help[=false]\thelp\n      --prefix[=false]\tp\n\n'), 'OPTIONS:\n  -h, --help[=false]\thelp\n      --prefix[=false]\tp\n\n');
  assert.equal(alignTabs('\ta\tx\n\tlonger-name\ty\n'), '\ta\t\tx\n\tlonger-name\ty\n');
});

test('tablewriter layout: centred headers, right-aligned cells, balanced wrapping', () => {
  assert.equal(
    renderTable(['endpoint', 'health'], [['127.0.0.1:2379', 'true']]),
    '+----------------+--------+\n|    ENDPOINT    | HEALTH |\n+----------------+--------+\n| 127.0.0.1:2379 |   true |\n+----------------+--------+\n',
  );
  const wrapped = renderTable(['errors'], [['memberID:1 alarm:NOSPACE, memberID:2 alarm:CORRUPT']]);
  const rule = '+' + '-'.repeat(32) + '+\n';
  assert.equal(
    wrapped,
    rule + `| ${' '.repeat(12)}ERRORS${' '.repeat(12)} |\n` + rule +
      `| ${' '.repeat(5)}memberID:1 alarm:NOSPACE, |\n` +
      `| ${' '.repeat(6)}memberID:2 alarm:CORRUPT |\n` + rule,
  );
  assert.equal(renderTable(['a'], []), '+---+\n| A |\n+---+\n+---+\n');
});

test('the range end of a prefix', () => {
  assert.deepEqual(prefixEnd(Buffer.from('foo')), Buffer.from('fop'));
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from([0x62]));
  assert.deepEqual(prefixEnd(Buffer.from([0xff, 0xff])), Buffer.from([0]));
});
