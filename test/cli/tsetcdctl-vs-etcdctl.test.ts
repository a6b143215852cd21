// tsetcdctl against the real etcdctl 3.4: one session of commands is run step by step,
// etcdctl against real etcd member A and tsetcdctl against real etcd member B (started
// the same way, so both have the same IDs and history). Every step must give the same
// stdout, stderr and exit code. Only what cannot be equal is normalised: the client
// port of each member, measured durations, log timestamps, etcdctl's gRPC retry log
// lines, and the program name.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../helpers/tmp.js';
import { BIN, freePort, haveBinary, run, startMember, type Member, type Result } from './helpers.js';

interface Step {
  args: string[];
  stdin?: string | Buffer;
  env?: Record<string, string>;
  /** how the client is told its member: --endpoints first (default), last, through ETCDCTL_ENDPOINTS, or not at all */
  endpoint?: 'first' | 'last' | 'env' | 'none';
  /** the step prints a usage page on stdout, which is ours in wording: compare stderr and code only */
  usage?: boolean;
  /** run both clients against member A (for outputs that show storage sizes) */
  sameMember?: boolean;
  /** the step prints version numbers, which are ours */
  versions?: boolean;
}

const s = (...args: string[]): Step => ({ args });
const w = (step: Step, extra: Partial<Step>): Step => ({ ...step, ...extra });

const ODD_VALUE = Buffer.from([0x76, 0x09, 0x01, 0xc3, 0xa9, 0xff, 0x22, 0x3c, 0x26]);

const SESSION: Step[] = [
  // writes, in every output format
  s('put', 'foo', 'bar'),
  s('put', 'foo', 'baz', '--prev-kv'),
  s('put', 'foo2', 'x', '-w', 'json'),
  s('put', 'fop', 'y', '-w', 'fields'),
  s('put', 'foo', 'qux', '--prev-kv', '-w', 'fields'),
  s('put', 'foo', 'quux', '--prev-kv', '-w', 'json'),
  s('put', 'foo', 'corge', '--prev-kv', '-w', 'protobuf'),
  w(s('put', 'fromstdin'), { stdin: 'hello\nworld\n' }),
  w(s('put', 'odd"key\t<&>'), { stdin: ODD_VALUE }),
  s('put', 'é-ünïcode', 'ñ'),
  s('put', '--', '-dash', '-v'),
  w(s('put', '-w', 'json', 'flagfirst', 'v'), { endpoint: 'last' }),
  s('put', 'foo', 'grault', '--prev-kv', '--hex'),
  // reads
  s('get', 'foo'),
  s('get', 'foo', '-w', 'json'),
  s('get', 'foo', '-w', 'fields'),
  s('get', 'foo', '-w', 'protobuf'),
  s('get', 'foo', '--print-value-only'),
  s('get', 'fromstdin', '-w', 'json'),
  s('get', 'odd"key\t<&>'),
  s('get', 'odd"key\t<&>', '-w', 'fields'),
  s('get', 'odd"key\t<&>', '-w', 'json'),
  s('get', 'odd', '--prefix', '--hex'),
  s('get', 'é-ünïcode', '-w', 'fields'),
  s('get', 'fo', '--prefix'),
  s('get', 'fo', '--prefix', '--keys-only'),
  s('get', 'fo', '--prefix', '--keys-only', '-w', 'json'),
  s('get', 'fo', '--prefix', '--limit', '1', '-w', 'json'),
  s('get', 'fo', '--prefix', '--limit=2', '-w', 'fields'),
  s('get', 'a', 'foo2'),
  s('get', '--from-key', 'foo'),
  s('get', '--from-key', '', '--keys-only'),
  s('get', '', '--prefix', '--keys-only'),
  s('get', 'fo', '--prefix', '--sort-by=MODIFY', '--order=DESCEND'),
  s('get', 'fo', '--prefix', '--sort-by=value', '--order=ascend', '-w', 'json'),
  s('get', 'fo', '--prefix', '--sort-by=CREATE', '--order=DESCEND', '--keys-only'),
  s('get', 'fo', '--prefix', '--order=DESCEND'),
  s('get', 'fo', '--prefix', '--sort-by=KEY', '--order=ASCEND', '--limit=0x2'),
  s('get', 'foo', '--rev=2'),
  s('get', 'foo', '--rev=2', '-w', 'json'),
  s('get', 'foo', '--rev=-1'),
  s('get', 'foo', '--consistency=s'),
  s('get', 'nothing-here', '-w', 'json'),
  s('get', 'nothing-here', '-w', 'fields'),
  s('get', '--', '-dash'),
  w(s('-w', 'fields', 'get', 'foo'), { endpoint: 'last' }),
  s('get', 'foo', '-wjson'),
  s('get', 'foo', '--prefix=false', '--keys-only=true'),
  // deletes
  s('del', 'nothing-here'),
  s('del', 'nothing-here', '-w', 'json'),
  s('del', 'nothing-here', '-w', 'fields'),
  s('del', 'foo2', '--prev-kv'),
  s('del', 'fo', '--prefix', '--prev-kv', '-w', 'json'),
  s('put', 'fop', 'again'),
  s('del', 'fop', '-w', 'fields', '--prev-kv'),
  s('put', 'fop', 'again'),
  s('del', 'fop', '-w', 'protobuf'),
  s('del', 'a', 'z'),
  s('del', '', '--from-key'),
  // compaction
  s('put', 'c', '1'),
  s('put', 'c', '2'),
  s('compaction', '3'),
  s('compaction', '3'),
  s('compaction', '100000'),
  s('compaction', '5', '--physical'),
  s('compaction', '6', '-w', 'json'),
  s('get', 'c', '--rev=2'),
  s('compaction', 'abc'),
  s('compaction'),
  s('compaction', '1', '2'),
  // members and endpoints
  s('member', 'list'),
  s('member', 'list', '-w', 'json'),
  s('member', 'list', '-w', 'fields'),
  s('member', 'list', '-w', 'table'),
  s('member', 'list', '-w', 'protobuf'),
  s('endpoint', 'health'),
  s('endpoint', 'health', '-w', 'json'),
  s('endpoint', 'health', '-w', 'fields'),
  s('endpoint', 'health', '-w', 'table'),
  s('endpoint', 'health', '-w', 'protobuf'),
  w(s('endpoint', 'status'), { sameMember: true }),
  w(s('endpoint', 'status', '-w', 'json'), { sameMember: true }),
  w(s('endpoint', 'status', '-w', 'fields'), { sameMember: true }),
  w(s('endpoint', 'status', '-w', 'table'), { sameMember: true }),
  w(s('endpoint', 'status', '-w', 'protobuf'), { sameMember: true }),
  w(s('endpoint', 'status', '--cluster'), { sameMember: true }),
  w(s('version'), { versions: true }),
  w(s('version', '-w', 'json'), { versions: true }),
  // bad arguments and flags
  s('get'),
  s('put'),
  s('put', 'only-key'),
  s('put', 'k', 'v', '--ignore-value'),
  s('put', 'never-written', '--ignore-value'),
  s('put', 'k', 'v', '--lease=zz'),
  s('put', 'k', 'v', '--lease=1234'),
  s('del'),
  s('del', 'a', 'b', 'c'),
  s('del', 'a', '--prefix', '--from-key'),
  s('get', 'a', '--prefix', '--from-key'),
  s('get', 'a', 'b', '--prefix'),
  s('get', 'foo', '--consistency=x'),
  s('get', 'foo', '--order=sideways'),
  s('get', 'foo', '--sort-by=color'),
  s('get', 'foo', '-w', 'xml'),
  s('get', 'foo', '-w', 'table'),
  s('get', 'foo', '--print-value-only', '-w', 'json'),
  s('member', 'list', '-w', 'yaml'),
  s('bogus'),
  s('gte', 'foo'),
  s('ge', 'foo'),
  s('member', 'lis'),
  w(s('get', 'foo', '--bogus'), { usage: true }),
  w(s('get', 'foo', '--limit=abc'), { usage: true }),
  w(s('get', 'foo', '--prefix=maybe'), { usage: true }),
  w(s('get', '-x', 'foo'), { usage: true }),
  w(s('get', 'foo', '-w'), { usage: true }),
  w(s('compaction', '-5'), { usage: true }),
  w(s('get', 'foo', '--command-timeout=soon'), { usage: true }),
  w(s('get', 'foo', '--help'), { usage: true }),
  w(s('member'), { usage: true }),
  w(s('help', 'nosuchcommand'), { usage: true }),
  // the environment
  w(s('get', 'foo'), { endpoint: 'env' }),
  w(s('get', 'foo'), { endpoint: 'env', env: { ETCDCTL_WRITE_OUT: 'json' } }),
  w(s('member', 'list'), { endpoint: 'env', env: { ETCDCTL_WRITE_OUT: 'fields', ETCDCTL_COMMAND_TIMEOUT: '3s' } }),
  w(s('get', 'foo'), { endpoint: 'env', env: { ETCDCTL_DIAL_TIMEOUT: 'not-a-duration' } }),
  w(s('get', 'foo'), { endpoint: 'env', env: { ETCDCTL_NO_SUCH_SETTING: 'x' } }),
  w(s('get', 'foo', '-w', 'json'), { env: { ETCDCTL_WRITE_OUT: 'fields' } }),
  w(s('get', 'foo'), { env: { ETCDCTL_ENDPOINTS: '127.0.0.1:1' } }),
  w(s('get'), { env: { ETCDCTL_ENDPOINTS: '127.0.0.1:1' } }),
  w(s('version'), { endpoint: 'none', versions: true, env: { ETCDCTL_ENDPOINTS: '127.0.0.1:1', ETCDCTL_BOGUS: '1' } }),
];

let deadPort = 0;
/** Steps against an endpoint nothing listens on: every call times out. */
const UNREACHABLE: string[][] = [
  ['get', 'foo'],
  ['put', 'a', 'b'],
  ['member', 'list'],
  ['endpoint', 'health'],
  ['endpoint', 'health', '-w', 'json'],
  ['endpoint', 'status'],
  ['endpoint', 'status', '-w', 'table'],
  ['compaction', '9'],
];

let dirs: { dir: string; cleanup: () => void };
let memberA: Member;
let memberB: Member;
const enabled = haveBinary('etcd') && haveBinary('etcdctl');

before(async () => {
  if (!enabled) return;
  dirs = tempDir('tsetcdctl-cmp-');
  memberA = await startMember('etcd', path.join(dirs.dir, 'a'));
  memberB = await startMember('etcd', path.join(dirs.dir, 'b'));
  deadPort = await freePort();
});

after(async () => {
  await memberA?.stop();
  await memberB?.stop();
  dirs?.cleanup();
});

const GO_DURATION = /\b\d+(\.\d+)?(ns|µs|ms|s|m)(\d+(\.\d+)?(ms|s))?\b/g;

function normalise(text: string, ports: number[], opts: { durations: boolean; versions?: boolean }): string {
  let t = text
    .split('\n')
    .filter((l) => !l.startsWith('{"level":')) // etcdctl's gRPC retry warnings
    .join('\n')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}/g, 'TIMESTAMP')
    .replace(/\btsetcdctl\b/g, 'etcdctl');
  for (const p of ports) t = t.split(`127.0.0.1:${p}`).join('127.0.0.1:PORT');
  if (opts.versions) t = t.replace(/version: \d+\.\d+(\.\d+)?$/gm, 'version: VERSION');
  if (opts.durations) {
    // a measured duration, and the table column its width decides
    t = t.replace(GO_DURATION, 'DURATION').replace(/ +/g, ' ').replace(/-+/g, '-');
  }
  return t;
}

function describe(r: Result): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout.toString('utf8')}\n--- stderr\n${r.stderr}`;
}

async function runBoth(step: Step, endpointA: string, endpointB: string): Promise<{ ref: Result; ours: Result }> {
  const place = step.endpoint ?? 'first';
  const argsFor = (ep: string): string[] => {
    const flag = `--endpoints=${ep}`;
    if (place === 'first') return [flag, ...step.args];
    if (place === 'last') return [...step.args, flag];
    return [...step.args];
  };
  const envFor = (ep: string): Record<string, string> => ({ ...(place === 'env' ? { ETCDCTL_ENDPOINTS: ep } : {}), ...step.env });
  const ref = await run('etcdctl', argsFor(endpointA), { env: envFor(endpointA), stdin: step.stdin });
  let ours = await run(BIN.tsetcdctl, argsFor(endpointB), { env: envFor(endpointB), stdin: step.stdin });
  if (ours.signal !== null) {
    // killed from outside (other test suites on this machine clean up with pkill -f): once more
    ours = await run(BIN.tsetcdctl, argsFor(endpointB), { env: envFor(endpointB), stdin: step.stdin });
  }
  return { ref, ours };
}

function assertSame(step: Step, ref: Result, ours: Result, ports: number[]): void {
  const durations = step.args.includes('endpoint') && step.args.includes('health');
  const label = `tsetcdctl ${step.args.join(' ')} ${JSON.stringify(step.env ?? {})}\n== etcdctl: ${describe(ref)}\n== tsetcdctl: ${describe(ours)}`;
  assert.equal(ours.code, ref.code, `exit code differs: ${label}`);
  assert.equal(normalise(ours.stderr, ports, { durations }), normalise(ref.stderr, ports, { durations }), `stderr differs: ${label}`);
  if (step.usage) {
    assert.match(ours.stdout.toString('utf8'), /^NAME:\n\t/, `no usage page: ${label}`);
    return;
  }
  // bytes compared one for one, except where durations (with their "µ") are rewritten
  const encoding = durations ? 'utf8' : 'latin1';
  const refOut = normalise(ref.stdout.toString(encoding), ports, { durations, versions: step.versions });
  const ourOut = normalise(ours.stdout.toString(encoding), ports, { durations, versions: step.versions });
  assert.equal(ourOut, refOut, `stdout differs: ${label}`);
}

test('tsetcdctl prints what etcdctl prints, step by step', { skip: !enabled && 'etcd/etcdctl not installed' }, async () => {
  for (const step of SESSION) {
    const a = memberA.endpoint;
    const { ref, ours } = await runBoth(step, a, step.sameMember ? a : memberB.endpoint);
    assertSame(step, ref, ours, [memberA.clientPort, memberB.clientPort]);
  }
});

test('an unreachable endpoint fails like etcdctl: context deadline exceeded', { skip: !enabled && 'etcd/etcdctl not installed' }, async () => {
  const dead = `127.0.0.1:${deadPort}`;
  await Promise.all(
    UNREACHABLE.map(async (args) => {
      const step: Step = { args: ['--command-timeout=700ms', ...args] };
      const { ref, ours } = await runBoth(step, dead, dead);
      assertSame(step, ref, ours, [deadPort]);
    }),
  );
});

test('with one dead endpoint in the list, commands use the live one', { skip: !enabled && 'etcd/etcdctl not installed' }, async () => {
  const dead = `127.0.0.1:${deadPort}`;
  for (const args of [['get', 'foo'], ['endpoint', 'status', '-w', 'json'], ['endpoint', 'health', '-w', 'table']]) {
    const step: Step = { args: ['--command-timeout=700ms', ...args], sameMember: true };
    const a = `${dead},${memberA.endpoint}`;
    const { ref, ours } = await runBoth(step, a, a);
    const sorted = (r: Result): Result => ({ ...r, stdout: Buffer.from(r.stdout.toString('utf8').split('\n').sort().join('\n')) });
    // health lists endpoints in the order their answers arrive
    assertSame(step, sorted(ref), sorted(ours), [deadPort, memberA.clientPort]);
  }
});
