// watch: prints the events on a key, a range or a prefix as they happen, in any output
// format, until the server cancels the watch (exit 5) or the process is interrupted.
// `watch ... -- cmd args` runs the command once per event with ETCD_WATCH_REVISION,
// ETCD_WATCH_EVENT_TYPE, ETCD_WATCH_KEY and ETCD_WATCH_VALUE set (Go-quoted, as etcdctl
// sets them); -i reads `watch ...` and `progress` lines from standard input, each watch
// running alongside the others on one stream. ETCDCTL_WATCH_KEY / _RANGE_END stand in
// for the key arguments. Arguments are checked with etcdctl's rules and messages.
import { spawnSync } from 'node:child_process';
import { WatchResponse, WatchService, type WatchRequest } from '../../proto/etcdserverpb.js';
import { Event_EventType, type KeyValue } from '../../proto/mvccpb.js';
import type { ClientStream } from '../../client/unary-client.js';
import type { CtlClient } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { argBytes } from './cmd-support.js';
import { FlagError, FlagSet, Flag, type FlagSpec } from './flags.js';
import { connect } from './global.js';
import { argify, GoScanError } from './go-scan.js';
import { goJson, goQuote } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { prefixEnd } from './kv-commands.js';
import { unsupported, type Printer } from './printers.js';
import { StdinLines } from './stdin-lines.js';

const WATCH_FLAGS: FlagSpec[] = [
  { name: 'interactive', short: 'i', kind: 'bool', def: 'false', usage: 'read watch and progress requests from standard input' },
  { name: 'prefix', kind: 'bool', def: 'false', usage: 'watch every key that starts with the key' },
  { name: 'rev', kind: 'int64', def: '0', usage: 'start watching at this revision (earlier events are replayed)' },
  { name: 'prev-kv', kind: 'bool', def: 'false', usage: 'also show the key-value pair as it was before each event' },
  { name: 'progress-notify', kind: 'bool', def: 'false', usage: 'ask the server for periodic progress notifications' },
];

const ERR_ARGS = 'bad number of arguments';
const ERR_ARGS_ENV = 'bad number of arguments (found conflicting environment key)';
const ERR_ARGS_SEP = 'bad number of arguments (found separator --, but no commands)';

interface WatchOptions {
  prefix: boolean;
  rev: bigint;
  prevKv: boolean;
  progressNotify: boolean;
}

interface ParsedWatch {
  watchArgs: string[];
  execArgs: string[];
}

/** etcdctl's parseWatchArgs for a command line (not interactive). */
function parseCommandLine(rawArgv: readonly string[], commandArgs: string[], envKey: string, envRange: string): ParsedWatch {
  const at = rawArgv.indexOf('watch');
  const raw = at >= 0 ? rawArgv.slice(at + 1) : [...rawArgv];
  let watchArgs = [...commandArgs];
  const execIdx = raw.indexOf('--');
  const execExist = execIdx >= 0;
  if (execExist && execIdx === raw.length - 1) throw new CtlExit(ExitCode.BadArgs, ERR_ARGS_SEP);
  if (!execExist && raw.length < 1 && envKey === '') throw new CtlExit(ExitCode.BadArgs, ERR_ARGS);
  if (execExist && envKey !== '') {
    let ridx = raw.length - 1;
    for (let widx = watchArgs.length - 1; widx >= 0; widx--) {
      if (watchArgs[widx] === raw[ridx]) {
        ridx--;
        continue;
      }
      if (ridx === execIdx) throw new CtlExit(ExitCode.BadArgs, ERR_ARGS_ENV);
    }
  }
  if (!execExist && watchArgs.length > 0 && envKey !== '') throw new CtlExit(ExitCode.BadArgs, ERR_ARGS_ENV);
  const execArgs = execExist ? raw.slice(execIdx + 1) : [];
  if (envKey !== '') watchArgs = [envKey, ...(envRange !== '' ? [envRange] : []), ...watchArgs];
  if (!execExist) return { watchArgs, execArgs: [] };
  return { watchArgs: watchArgs.slice(0, lastIndexOf(watchArgs, execArgs[0]!)), execArgs };
}

/** Where the `--` command starts in the positional arguments: the last copy of its first word. */
function lastIndexOf(list: string[], word: string): number {
  return Math.max(0, list.lastIndexOf(word));
}

function watchFlagSet(): FlagSet {
  return new FlagSet(WATCH_FLAGS.map((f) => new Flag(f)));
}

/** etcdctl's parseWatchArgs for an interactive `watch ...` line; errors are pflag's or etcdctl's. */
function parseInteractive(words: string[], envKey: string, envRange: string): ParsedWatch & { opts: Partial<WatchOptions> } {
  if (words[0] !== 'watch') throw new Error("args[0] must be 'watch' for interactive calls");
  const rest = words.slice(1);
  const sep = rest.indexOf('--');
  if (sep >= 0 && sep === rest.length - 1) throw new Error(ERR_ARGS_SEP);
  const flags = watchFlagSet();
  let positional = flags.parse(rest);
  if (sep < 0 && envKey === '' && positional.length < 1) throw new Error(ERR_ARGS);
  if (sep < 0 && positional.length > 0 && envKey !== '') throw new Error(ERR_ARGS_ENV);
  const execArgs = sep >= 0 ? rest.slice(sep + 1) : [];
  if (envKey !== '') positional = [envKey, ...(envRange !== '' ? [envRange] : []), ...positional];
  const opts = { prefix: flags.get('prefix').bool, rev: flags.get('rev').int64, prevKv: flags.get('prev-kv').bool };
  if (sep < 0) return { watchArgs: positional, execArgs, opts };
  return { watchArgs: positional.slice(0, lastIndexOf(positional, execArgs[0]!)), execArgs, opts };
}

/** The create request for the arguments (etcdctl's getWatchChan); throws Error with its message. */
function createRequest(args: string[], o: WatchOptions): WatchRequest {
  if (args.length < 1) throw new Error(ERR_ARGS);
  let key: Buffer = argBytes(args[0]!);
  let rangeEnd: Buffer = Buffer.alloc(0);
  if (args.length === 2) {
    if (o.prefix) throw new Error('`range_end` and `--prefix` are mutually exclusive');
    rangeEnd = argBytes(args[1]!);
  }
  if (o.prefix) {
    if (key.length === 0) [key, rangeEnd] = [Buffer.from([0]), Buffer.from([0])];
    else rangeEnd = prefixEnd(key);
  }
  return {
    create_request: {
      key,
      range_end: rangeEnd,
      start_revision: Number(o.rev),
      progress_notify: o.progressNotify,
      filters: [],
      prev_kv: o.prevKv,
      watch_id: 0,
      fragment: false,
    },
  };
}

// ---- output ---------------------------------------------------------------------------

const EVENT_NAMES: Record<number, string> = { [Event_EventType.PUT]: 'PUT', [Event_EventType.DELETE]: 'DELETE' };

const EMPTY_KV: KeyValue = { key: Buffer.alloc(0), create_revision: 0, mod_revision: 0, version: 0, value: Buffer.alloc(0), lease: 0n };

/** etcdctl's display.Watch for one response delivered to the channel. */
function printWatchResponse(printer: Printer, r: WatchResponse): void {
  switch (printer.format) {
    case 'simple':
      for (const e of r.events) {
        printer.line(EVENT_NAMES[e.type] ?? String(e.type));
        if (e.prev_kv) printer.simpleKv(e.prev_kv);
        printer.simpleKv(e.kv ?? EMPTY_KV);
      }
      return;
    case 'fields':
      printer.fieldsHeader(r.created ? undefined : r.header);
      for (const e of r.events) {
        printer.line(`"Type" : ${EVENT_NAMES[e.type] ?? String(e.type)}`);
        if (e.prev_kv) printer.fieldsKv('Prev', e.prev_kv);
        printer.fieldsKv('', e.kv ?? EMPTY_KV);
      }
      return;
    case 'json': {
      // clientv3 hands over a compaction's cancel with an empty (not nil) event list,
      // and a watch refused at creation with an empty header
      const events = r.events.length > 0 ? goJson(r.events) : r.compact_revision !== 0 ? '[]' : 'null';
      const header = r.created ? '{}' : goJson(r.header ?? {});
      return printer.line(`{"Header":${header},"Events":${events},"CompactRevision":${r.compact_revision},"Canceled":${r.canceled},"Created":false}`);
    }
    case 'protobuf': {
      const zero = { cluster_id: 0n, member_id: 0n, revision: 0, raft_term: 0 };
      const wr = WatchResponse.create({ header: r.created ? zero : (r.header ?? zero), events: r.events, compact_revision: r.compact_revision, canceled: r.canceled });
      return printer.io.out(Buffer.from(WatchResponse.encode(wr)));
    }
    default:
      unsupported(printer.format);
  }
}

/** clientv3's WatchResponse.Err() text for a canceled watch. */
function cancelText(r: WatchResponse): string {
  if (r.compact_revision !== 0) return 'etcdserver: mvcc: required revision has been compacted';
  if (r.cancel_reason !== '') return r.cancel_reason;
  return 'etcdserver: mvcc: required revision is a future revision';
}

function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compact_revision === 0 && (r.header?.revision ?? 0) !== 0;
}

/** Go's %q of a []string: ["a" "b"]. */
function quoteList(list: string[]): string {
  return '[' + list.map((s) => goQuote(s)).join(' ') + ']';
}

/** Runs the `--` command once per event, as etcdctl does; a failure ends tsetcdctl with 1. */
function runForEvents(io: Io, r: WatchResponse, execArgs: string[]): void {
  for (const e of r.events) {
    const kv = e.kv ?? EMPTY_KV;
    const env = {
      ...process.env,
      ETCD_WATCH_REVISION: String(r.header?.revision ?? 0),
      ETCD_WATCH_EVENT_TYPE: goQuote(EVENT_NAMES[e.type] ?? String(e.type)),
      ETCD_WATCH_KEY: goQuote(kv.key),
      ETCD_WATCH_VALUE: goQuote(kv.value),
    };
    const res = spawnSync(execArgs[0]!, execArgs.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env });
    let failure: string | undefined;
    if (res.error) failure = (res.error as NodeJS.ErrnoException).code === 'ENOENT' ? `exec: ${goQuote(execArgs[0]!)}: executable file not found in $PATH` : res.error.message;
    else if (res.signal) failure = `signal: ${signalText(res.signal)}`;
    else if (res.status !== 0) failure = `exit status ${res.status}`;
    if (failure !== undefined) {
      io.err(`command ${quoteList(execArgs)} error (${failure})\n`);
      throw new CtlExit(ExitCode.Error);
    }
  }
}

function signalText(signal: NodeJS.Signals): string {
  const names: Partial<Record<NodeJS.Signals, string>> = { SIGKILL: 'killed', SIGTERM: 'terminated', SIGINT: 'interrupt', SIGHUP: 'hangup', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted' };
  return names[signal] ?? signal;
}

// ---- the stream -----------------------------------------------------------------------

interface Watcher {
  onResponse(r: WatchResponse): void;
  onClosed(): void;
}

/** A watch as the stream keeps it: to resume it from where it was after a reconnect. */
interface ActiveWatch {
  watcher: Watcher;
  request: WatchRequest;
  /** the revision to resume from (0: as first asked) */
  nextRev: number;
}

/** Pause before opening the stream again after it broke. */
const RECONNECT_WAIT_MS = 500;

/**
 * Watches multiplexed on one Watch stream, as clientv3 shares one stream per client:
 * creates are answered in order, events go to their watch ID, progress answers to all.
 * If the stream breaks (the member restarts, the connection drops), it is opened again
 * and every live watch re-created from the revision after the last event it got, as
 * clientv3 resumes them: nothing is lost or repeated.
 */
class WatchStream {
  private pending: ActiveWatch[] = [];
  private readonly byId = new Map<number, ActiveWatch>();
  private stream: ClientStream | undefined;
  private opening: Promise<ClientStream> | undefined;

  constructor(private readonly client: CtlClient) {}

  private open(): Promise<ClientStream> {
    if (this.stream) return Promise.resolve(this.stream);
    this.opening ??= this.client.openStream(WatchService.methods.Watch.path).then((s) => {
      s.onMessage = (bytes) => this.dispatch(WatchService.methods.Watch.response.decode(bytes));
      const broken = (): void => void this.resume(s);
      s.done.then(broken, broken);
      this.stream = s;
      this.opening = undefined;
      return s;
    });
    return this.opening;
  }

  /** The stream ended without our asking: open it again and re-create the live watches. */
  private async resume(old: ClientStream): Promise<void> {
    if (this.stream !== old) return;
    this.stream = undefined;
    const live = [...this.pending, ...this.byId.values()];
    this.pending = [];
    this.byId.clear();
    if (live.length === 0) return;
    await new Promise((r) => setTimeout(r, RECONNECT_WAIT_MS));
    for (const a of live) {
      const create = a.request.create_request!;
      const request = a.nextRev > 0 ? { create_request: { ...create, start_revision: a.nextRev } } : a.request;
      await this.send(a, request);
    }
  }

  private async send(a: ActiveWatch, request: WatchRequest): Promise<void> {
    const s = await this.open();
    this.pending.push(a);
    s.send(WatchService.methods.Watch.request.encode(request));
  }

  private dispatch(r: WatchResponse): void {
    if (r.created) {
      const a = this.pending.shift();
      if (!a) return;
      if (r.canceled) {
        a.watcher.onResponse(r);
        a.watcher.onClosed();
        return;
      }
      // a watch from "now" resumes after the revision it was created at
      if (a.nextRev === 0 && (a.request.create_request?.start_revision ?? 0) === 0) a.nextRev = (r.header?.revision ?? 0) + 1;
      this.byId.set(r.watch_id, a);
      return;
    }
    if (r.watch_id === -1 || (isProgressNotify(r) && !this.byId.has(r.watch_id))) {
      for (const a of this.byId.values()) a.watcher.onResponse(r);
      return;
    }
    const a = this.byId.get(r.watch_id);
    if (!a) return;
    const last = r.events[r.events.length - 1];
    if (last?.kv) a.nextRev = last.kv.mod_revision + 1;
    a.watcher.onResponse(r);
    if (r.canceled) {
      this.byId.delete(r.watch_id);
      a.watcher.onClosed();
    }
  }

  watch(request: WatchRequest, w: Watcher): Promise<void> {
    return this.send({ watcher: w, request, nextRev: 0 }, request);
  }

  async requestProgress(): Promise<void> {
    const s = await this.open();
    s.send(WatchService.methods.Watch.request.encode({ progress_request: {} }));
  }
}

/** etcdctl's printWatchCh as a watcher; `onFail` gets what ends the process (a failed command). */
function printWatch(io: Io, printer: Printer, execArgs: string[], onFail: (err: unknown) => void, onClosed: () => void = () => {}): Watcher {
  return {
    onResponse: (r) => {
      try {
        if (r.canceled) io.err(`watch was canceled (${cancelText(r)})\n`);
        if (isProgressNotify(r)) io.out(`progress notify: ${r.header?.revision ?? 0}\n`);
        printWatchResponse(printer, r);
        if (execArgs.length > 0) runForEvents(io, r, execArgs);
      } catch (err) {
        onFail(err);
      }
    },
    onClosed,
  };
}

function optionsOf(ctx: RunContext): WatchOptions {
  return {
    prefix: ctx.flags.get('prefix').bool,
    rev: ctx.flags.get('rev').int64,
    prevKv: ctx.flags.get('prev-kv').bool,
    progressNotify: ctx.flags.get('progress-notify').bool,
  };
}

const WATCH_ENV = new Set(['ETCDCTL_WATCH_KEY', 'ETCDCTL_WATCH_RANGE_END']);

/**
 * The command's context with ETCDCTL_WATCH_KEY / _RANGE_END hidden from the global
 * flags' environment check: etcdctl registers them for watch so they draw no warning.
 */
function withoutWatchEnv(ctx: RunContext): RunContext {
  const io = ctx.io;
  const env = io.env.filter(([k]) => !WATCH_ENV.has(k));
  return { ...ctx, io: { out: (d) => io.out(d), err: (d) => io.err(d), readStdin: () => io.readStdin(), env } };
}

function envOf(io: Io, name: string): string {
  return io.env.find(([k]) => k === name)?.[1] ?? '';
}

async function watchCommand(ctx: RunContext): Promise<void> {
  const envKey = envOf(ctx.io, 'ETCDCTL_WATCH_KEY');
  const envRange = envOf(ctx.io, 'ETCDCTL_WATCH_RANGE_END');
  if (envKey === '' && envRange !== '') throw new CtlExit(ExitCode.BadArgs, `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${goQuote(envRange)}`);
  if (ctx.flags.get('interactive').bool) return watchInteractive(ctx, envKey, envRange);
  const { watchArgs, execArgs } = parseCommandLine(ctx.argv ?? ctx.args, ctx.args, envKey, envRange);
  const { client, printer } = connect(withoutWatchEnv(ctx));
  let request;
  try {
    request = createRequest(watchArgs, optionsOf(ctx));
  } catch (err) {
    throw new CtlExit(ExitCode.BadArgs, (err as Error).message);
  }
  const stream = new WatchStream(client);
  await new Promise<void>((resolve, reject) => {
    void stream.watch(request, printWatch(ctx.io, printer, execArgs, reject, resolve)).catch(reject);
  });
  client.close();
  throw new CtlExit(ExitCode.Interrupted, 'watch is canceled by the server');
}

async function watchInteractive(ctx: RunContext, envKey: string, envRange: string): Promise<void> {
  const { client, printer } = connect(withoutWatchEnv(ctx));
  const stream = new WatchStream(client);
  const lines = new StdinLines();
  let fail!: (err: unknown) => void;
  // a failing `--` command ends everything, as etcdctl's os.Exit(1) does
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const base = optionsOf(ctx);
  const readLoop = async (): Promise<never> => {
    for (;;) {
      const { text, eof } = await lines.readLine();
      if (eof) throw new CtlExit(ExitCode.InvalidInput, 'error reading watch request line: EOF');
      const line = text.replace(/\n$/, '');
      let words: string[];
      try {
        words = argify(line);
      } catch (err) {
        if (err instanceof GoScanError) throw new CtlExit(ExitCode.InvalidInput, err.message);
        throw err;
      }
      if (words.length < 1) {
        ctx.io.err(`Invalid command: ${line} (watch and progress supported)\n`);
        continue;
      }
      if (words[0] === 'progress') {
        await stream.requestProgress();
        continue;
      }
      if (words[0] !== 'watch') {
        ctx.io.err(`Invalid command ${line} (only support watch)\n`);
        continue;
      }
      if (words.length < 2 && envKey === '') {
        ctx.io.err(`Invalid command ${line} (command type or key is not provided)\n`);
        continue;
      }
      let parsed;
      try {
        parsed = parseInteractive(words, envKey, envRange);
      } catch (err) {
        const message = err instanceof FlagError ? err.message : (err as Error).message;
        throw new CtlExit(ExitCode.BadArgs, message);
      }
      let request;
      try {
        request = createRequest(parsed.watchArgs, { ...base, ...parsed.opts });
      } catch (err) {
        ctx.io.err(`Invalid command ${line} (${(err as Error).message})\n`);
        continue;
      }
      await stream.watch(request, printWatch(ctx.io, printer, parsed.execArgs, fail));
    }
  };
  await Promise.race([readLoop(), failed]);
}

export const WATCH_COMMAND: CommandSpec = {
  use: 'watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]',
  short: 'Prints the changes to a key, a range or a prefix as they happen',
  long: `
Watches <key>, [<key>, <range_end>) or, with --prefix, every key starting with
<key>, and prints each event (PUT or DELETE, then the key and value).

After '--', a command to run for every event, with the event in its environment:
ETCD_WATCH_REVISION, ETCD_WATCH_EVENT_TYPE, ETCD_WATCH_KEY, ETCD_WATCH_VALUE.

ETCDCTL_WATCH_KEY and ETCDCTL_WATCH_RANGE_END may give the key and range end.

With -i, reads lines from standard input: 'watch [options] <key> [range_end]' starts
one more watch, 'progress' asks for a progress notification.
`,
  flags: WATCH_FLAGS,
  run: watchCommand,
};

