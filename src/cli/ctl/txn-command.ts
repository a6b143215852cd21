// txn: reads compares, success requests and failure requests from standard input, one
// per line, each section ended by an empty line (with -i, a prompt before each section
// on stdout), and commits them as one transaction. Lines are read as etcdctl reads them:
// compares are `target("key") op "value"` scanned with Go's %q/%s, requests are
// put/get/del command lines with their own flags. Errors in the input end the command
// with exit code 3; input ending before the third empty line is "EOF".
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  KVService,
  type Compare,
  type RequestOp,
  type ResponseOp,
  type TxnResponse,
} from '../../proto/etcdserverpb.js';
import { Command, usageText, type CommandSpec, type RunContext } from './cmdtree.js';
import { argBytes, failWithError, goPanic, noDeadline } from './cmd-support.js';
import { FlagError } from './flags.js';
import { connect } from './global.js';
import { argify, GoScanError, GoScanner } from './go-scan.js';
import { goJson, goQuote, parseGoInt64 } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { checkPutArgs, keyRange, KV_COMMANDS, PUT_USAGE, putRequestOf, rangeRequest } from './kv-commands.js';
import { unsupported, type Printer } from './printers.js';
import { StdinLines } from './stdin-lines.js';

function invalidInput(message: string): never {
  throw new CtlExit(ExitCode.InvalidInput, message);
}

const RESULTS: Record<string, Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

const NUMERIC_TARGETS: Record<string, [Compare_CompareTarget, 'version' | 'create_revision' | 'mod_revision']> = {
  ver: [Compare_CompareTarget.VERSION, 'version'],
  version: [Compare_CompareTarget.VERSION, 'version'],
  c: [Compare_CompareTarget.CREATE, 'create_revision'],
  create: [Compare_CompareTarget.CREATE, 'create_revision'],
  m: [Compare_CompareTarget.MOD, 'mod_revision'],
  mod: [Compare_CompareTarget.MOD, 'mod_revision'],
};

/** etcdctl's parseCompare: `target("key") op "value"`. */
export function parseCompare(line: string, io: Io): Compare {
  const paren = line.indexOf('(');
  if (paren < 0) invalidInput(`malformed comparison: ${line}`);
  const target = line.slice(0, paren);
  // fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)
  const scan = new GoScanner(line.slice(paren + 1));
  let key: Buffer = Buffer.alloc(0);
  let op = '';
  let val: Buffer = Buffer.alloc(0);
  let scanned = 0;
  try {
    key = scan.quoted();
    scanned++;
    scan.literal(')');
    scan.spaces();
    op = scan.word();
    scanned++;
    scan.spaces();
    val = scan.quoted();
    scanned++;
  } catch (err) {
    if (!(err instanceof GoScanError)) throw err;
  }
  if (scanned !== 3) invalidInput(`malformed comparison: ${line}; got ${target}(${goQuote(key)}) ${op} ${goQuote(val)}`);
  const cmp: Compare = { result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.VERSION, key, range_end: Buffer.alloc(0) };
  const numeric = NUMERIC_TARGETS[target];
  if (numeric) {
    let v: bigint;
    try {
      v = parseGoInt64(val.toString('latin1'), 10);
    } catch {
      invalidInput(`invalid txn compare request: ${line}`);
    }
    cmp.target = numeric[0];
    cmp[numeric[1]] = Number(v);
  } else if (target === 'val' || target === 'value') {
    cmp.target = Compare_CompareTarget.VALUE;
    cmp.value = val;
  } else if (target === 'lease') {
    // etcdctl hands the lease compare a string, which clientv3.Compare cannot take
    resultOf(op, io);
    goPanic(io, 'bad value');
  } else {
    invalidInput(`malformed comparison: ${line} (unknown target ${target})`);
  }
  cmp.result = resultOf(op, io);
  return cmp;
}

function resultOf(op: string, io: Io): Compare_CompareResult {
  const r = RESULTS[op];
  if (r === undefined) goPanic(io, 'Unknown result op');
  return r;
}

/** The put, get and del commands as a txn line knows them: their own flags only. */
function requestCommands(): Command {
  const root = new Command({ use: '', short: '', children: KV_COMMANDS.filter((c) => /^(put|get|del) /.test(c.use)) }, undefined);
  return root;
}

/** clientv3.OpPut from a txn line's put (etcdctl's getPutOp). */
function putOp(args: string[], flags: RunContext['flags']): RequestOp {
  const ignoreValue = checkPutArgs(args, flags);
  // standard input is the transaction itself: a missing value finds nothing there
  if (!ignoreValue && args.length < 2) throw new CtlExit(ExitCode.BadArgs, PUT_USAGE);
  return { request_put: putRequestOf(args, flags, ignoreValue ? Buffer.alloc(0) : argBytes(args[1]!)) as RequestOp['request_put'] };
}

/** clientv3.OpDelete from a txn line's del (etcdctl's getDelOp). */
function delOp(args: string[], flags: RunContext['flags']): RequestOp {
  if (args.length === 0 || args.length > 2) throw new CtlExit(ExitCode.BadArgs, 'del command needs one argument as key and an optional argument as range_end');
  const prefix = flags.get('prefix').bool;
  const fromKey = flags.get('from-key').bool;
  if (prefix && fromKey) throw new CtlExit(ExitCode.BadArgs, '`--prefix` and `--from-key` cannot be set at the same time, choose one');
  if (args.length > 1 && (prefix || fromKey)) throw new CtlExit(ExitCode.BadArgs, 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set');
  const [key, rangeEnd] = keyRange(argBytes(args[0]!), args.length > 1 ? argBytes(args[1]!) : Buffer.alloc(0), prefix, fromKey);
  return { request_delete_range: { key, range_end: rangeEnd, prev_kv: flags.get('prev-kv').bool } };
}

/** etcdctl's parseRequestUnion: a put, get or del command line. */
export function parseRequest(line: string, io: Io): RequestOp {
  let args: string[];
  try {
    args = argify(line);
  } catch (err) {
    if (err instanceof GoScanError) invalidInput(err.message);
    throw err;
  }
  if (args.length < 2) invalidInput(`invalid txn compare request: ${line}`);
  const root = requestCommands();
  const words = root.findFlags().nonFlagWords(args);
  const cmd = words.length > 0 ? root.childNamed(words[0]!) : undefined;
  if (!cmd) invalidInput(`invalid txn request: ${line}`);
  const at = args.indexOf(words[0]!);
  const rest = [...args.slice(0, at), ...args.slice(at + 1)];
  const flags = cmd.allFlags();
  let positional: string[];
  try {
    positional = flags.parse(rest);
  } catch (err) {
    if (err instanceof FlagError) {
      // cobra, with errors silenced but not usage, shows the command's default usage page
      io.err(usageText(cmd, { name: '', version: '', apiVersion: '', usageStyle: 'cobra' }) + '\n');
      invalidInput(`invalid txn request: ${line}`);
    }
    throw err;
  }
  if (cmd.name === 'put') return putOp(positional, flags);
  if (cmd.name === 'del') return delOp(positional, flags);
  return { request_range: rangeRequest({ cmd, args: positional, flags, io }) };
}

async function readSection<T>(lines: StdinLines, parse: (line: string) => T): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const { text, eof } = await lines.readLine();
    if (eof) invalidInput('EOF');
    const line = text.trim();
    if (line === '') return out;
    out.push(parse(line));
  }
}

// ---- output ---------------------------------------------------------------------------

/** json.Marshal of a TxnResponse: each ResponseOp is {"Response":{"ResponsePut":...}}. */
export function txnJson(r: TxnResponse): string {
  const parts: string[] = [];
  if (r.header) parts.push(`"header":${goJson(r.header)}`);
  if (r.succeeded) parts.push('"succeeded":true');
  if (r.responses.length > 0) parts.push(`"responses":[${r.responses.map(responseOpJson).join(',')}]`);
  return '{' + parts.join(',') + '}';
}

function responseOpJson(op: ResponseOp): string {
  if (op.response_range) return `{"Response":{"ResponseRange":${goJson(op.response_range)}}}`;
  if (op.response_put) return `{"Response":{"ResponsePut":${goJson(op.response_put)}}}`;
  if (op.response_delete_range) return `{"Response":{"ResponseDeleteRange":${goJson(op.response_delete_range)}}}`;
  if (op.response_txn) return `{"Response":{"ResponseTxn":${txnJson(op.response_txn)}}}`;
  return '{}';
}

const NO_RAW = Buffer.alloc(0);

function printTxn(printer: Printer, r: TxnResponse, raw: Buffer): void {
  switch (printer.format) {
    case 'json':
      return printer.line(txnJson(r));
    case 'protobuf':
      return printer.io.out(raw);
    case 'simple':
      printer.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
      break;
    case 'fields':
      printer.fieldsHeader(r.header);
      printer.line(`"Succeeded" : ${r.succeeded}`);
      break;
    default:
      unsupported(printer.format);
  }
  for (const op of r.responses) {
    if (printer.format === 'simple') printer.line('');
    if (op.response_delete_range) printer.del({ msg: op.response_delete_range, raw: NO_RAW });
    else if (op.response_put) printer.put({ msg: op.response_put, raw: NO_RAW });
    else if (op.response_range) printer.get({ msg: op.response_range, raw: NO_RAW });
  }
}

async function txnCommand(ctx: RunContext): Promise<void> {
  if (ctx.args.length !== 0) throw new CtlExit(ExitCode.BadArgs, 'txn command does not accept argument');
  const { client, printer } = connect(ctx);
  const interactive = ctx.flags.get('interactive').bool;
  const prompt = (s: string): void => {
    if (interactive) ctx.io.out(s + '\n');
  };
  const lines = new StdinLines();
  prompt('compares:');
  const compare = await readSection(lines, (l) => parseCompare(l, ctx.io));
  prompt('success requests (get, put, del):');
  const success = await readSection(lines, (l) => parseRequest(l, ctx.io));
  prompt('failure requests (get, put, del):');
  const failure = await readSection(lines, (l) => parseRequest(l, ctx.io));
  lines.close();
  const ans = await client.call(KVService.methods.Txn, { compare, success, failure }, noDeadline(), { repeatable: false }).catch(failWithError);
  printTxn(printer, ans.msg, ans.raw);
}

export const TXN_COMMAND: CommandSpec = {
  use: 'txn [options]',
  short: 'Runs compares and then one of two request lists, atomically',
  long: `
Reads the transaction from standard input in three sections, each ended by an
empty line:

  compares, one per line:   <target>("<key>") <op> "<value>"
      target: ver|version, c|create, m|mod, val|value; op: =, !=, <, >
  success requests:         put/get/del command lines, run if every compare holds
  failure requests:         put/get/del command lines, run otherwise

Example:
  mod("key1") > "0"

  put key1 "overwrote-key1"

  put key1 "created-key1"
  put key2 "some extra key"

`,
  flags: [{ name: 'interactive', short: 'i', kind: 'bool', def: 'false', usage: 'prompt for each section of the transaction' }],
  run: txnCommand,
};
