// lock and elect, as etcdctl runs them on clientv3's concurrency recipes:
// - `lock <name>` prints the lock key once held and keeps it until SIGINT/SIGTERM;
//   `lock <name> cmd args...` runs the command while holding the lock, with
//   ETCD_LOCK_KEY and ETCD_LOCK_REV in its environment, and exits with its status;
// - `elect <name> <proposal>` campaigns, prints the leader key once elected and
//   resigns on SIGINT/SIGTERM; `elect -l <name>` prints every leader until interrupted.
import { spawn } from 'node:child_process';
import { RangeResponse } from '../../proto/etcdserverpb.js';
import { RpcError, type CtlClient } from './client.js';
import type { CommandSpec, RunContext } from './cmdtree.js';
import { argBytes, failWithError } from './cmd-support.js';
import { campaign, Cancellation, getKey, lockMutex, observe, resign, Session, unlockMutex, type Observation } from './concurrency.js';
import { connect } from './global.js';
import { goQuote } from './gofmt.js';
import { takeSignals } from './held-signals.js';
import { CtlExit, ExitCode } from './io.js';
import type { Printer } from './printers.js';

/** clientv3's default session TTL, used when --ttl is not positive. */
const DEFAULT_SESSION_TTL_SEC = 60;

/** SIGINT and SIGTERM cancel the command's waits instead of killing the process. */
function cancelOnSignals(): Cancellation {
  const cancel = new Cancellation();
  takeSignals(() => cancel.cancel());
  return cancel;
}

function untilCanceledOrDone(cancel: Cancellation, session: Session): Promise<'canceled' | 'expired'> {
  return new Promise((resolve) => {
    if (cancel.canceled) return resolve('canceled');
    cancel.onCancel(() => resolve('canceled'));
    void session.done.then(() => resolve('expired'));
  });
}

/** Runs the command with the lock's variables; resolves with Go's error text, if any, and exit code. */
function runLocked(cmdArgs: string[], key: Buffer, rev: number): Promise<{ error?: string; code: number }> {
  // a variable already in the environment wins, as Go keeps the last duplicate
  const env = { ETCD_LOCK_KEY: key.toString('utf8'), ETCD_LOCK_REV: String(rev), ...process.env };
  return new Promise((resolve) => {
    const child = spawn(cmdArgs[0]!, cmdArgs.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.once('error', (err: NodeJS.ErrnoException) => {
      const text = err.code === 'ENOENT' ? `exec: ${goQuote(cmdArgs[0]!)}: executable file not found in $PATH` : err.message;
      resolve({ error: text, code: ExitCode.Error });
    });
    child.once('exit', (status, signal) => {
      if (signal) resolve({ error: `signal: ${signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal}`, code: 255 });
      else if (status !== 0) resolve({ error: `exit status ${status}`, code: status ?? ExitCode.Error });
      else resolve({ code: 0 });
    });
  });
}

function printKv(printer: Printer, ans: { msg: RangeResponse; raw: Buffer }): void {
  printer.get(ans);
}

async function lockCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length === 0) throw new CtlExit(ExitCode.BadArgs, 'lock takes a lock name argument and an optional command to execute');
  const { client, printer } = connect(ctx);
  const ttl = Number(ctx.flags.get('ttl').int64);
  const session = await Session.create(client, ttl > 0 ? ttl : DEFAULT_SESSION_TTL_SEC).catch(failWithError);
  const cancel = cancelOnSignals();
  const { key, header } = await lockMutex(session, ctx.args[0]!, cancel).catch(failWithError);
  const cmdArgs = ctx.args.slice(1);
  if (cmdArgs.length > 0) {
    const result = await runLocked(cmdArgs, key, header?.revision ?? 0);
    await unlockMutex(client, key).catch((err) => {
      if (result.error === undefined) failWithError(err);
    });
    if (result.error !== undefined) throw new CtlExit(result.code, result.error);
    return;
  }
  const held = await getKey(client, key).catch(failWithError);
  if (held.msg.kvs.length === 0) throw new CtlExit(ExitCode.Error, 'lock lost on init');
  printKv(printer, held);
  if ((await untilCanceledOrDone(cancel, session)) === 'expired') throw new CtlExit(ExitCode.Error, 'session expired');
  await unlockMutex(client, key).catch(failWithError);
}

function observationAnswer(o: Observation): { msg: RangeResponse; raw: Buffer } {
  const msg = RangeResponse.create({ header: o.header, kvs: [o.kv] });
  return { msg, raw: Buffer.from(RangeResponse.encode(msg)) };
}

async function observeElection(client: CtlClient, printer: Printer, name: string): Promise<void> {
  await Session.create(client, DEFAULT_SESSION_TTL_SEC);
  const cancel = cancelOnSignals();
  await observe(client, name, cancel, (o) => printKv(printer, observationAnswer(o))).catch((err) => {
    if (!(err instanceof RpcError)) throw err;
  });
  if (!cancel.canceled) throw new RpcError('elect: observer lost');
}

async function campaignElection(client: CtlClient, printer: Printer, name: string, proposal: string): Promise<void> {
  const session = await Session.create(client, DEFAULT_SESSION_TTL_SEC);
  const cancel = cancelOnSignals();
  const lead = await campaign(session, name, argBytes(proposal), cancel);
  printKv(printer, await getKey(client, lead.key));
  if ((await untilCanceledOrDone(cancel, session)) === 'expired') throw new RpcError('elect: session expired');
  await resign(client, lead);
}

async function electCommand(ctx: RunContext): Promise<void> {
  const { args } = ctx;
  if (args.length !== 1 && args.length !== 2) throw new CtlExit(ExitCode.BadArgs, 'elect takes one election name argument and an optional proposal argument');
  const { client, printer } = connect(ctx);
  const listen = ctx.flags.get('listen').bool;
  if (args.length === 1) {
    if (!listen) throw new CtlExit(ExitCode.BadArgs, 'no proposal argument but -l not set');
    await observeElection(client, printer, args[0]!).catch(failWithError);
    return;
  }
  if (listen) throw new CtlExit(ExitCode.BadArgs, 'proposal given but -l is set');
  await campaignElection(client, printer, args[0]!, args[1]!).catch(failWithError);
}

export const LOCK_ELECT_COMMANDS: CommandSpec[] = [
  {
    use: 'lock <lockname> [exec-command arg1 arg2 ...]',
    short: 'Takes a named distributed lock, holding it until interrupted or while a command runs',
    long: `
Waits for the lock <lockname>, then prints its key and holds it until SIGINT or
SIGTERM. With a command after the name, runs it while holding the lock, with
ETCD_LOCK_KEY and ETCD_LOCK_REV in its environment, releases the lock and exits with
the command's status.
`,
    flags: [{ name: 'ttl', kind: 'int64', def: '10', usage: 'lease TTL in seconds of the session holding the lock' }],
    run: lockCommand,
  },
  {
    use: 'elect <election-name> [proposal]',
    short: 'Campaigns in a named election, or follows its leaders',
    long: `
With a proposal, waits to become the leader of <election-name>, prints the leader
key and value, and resigns on SIGINT or SIGTERM. With -l, prints the leader's key and
value now and at every change.
`,
    flags: [{ name: 'listen', short: 'l', kind: 'bool', def: 'false', usage: 'follow the election instead of campaigning' }],
    run: electCommand,
  },
];
