// A command tree that finds, parses and reports errors the way spf13/cobra does for
// etcdctl: sub-commands found by name or unique prefix before flags are parsed, flags
// of a command plus the persistent flags of its ancestors, `-h/--help` on every
// command, a `help [command]` command, "Did you mean this?" suggestions, and etcdctl's
// usage page (NAME / USAGE / COMMANDS / DESCRIPTION / OPTIONS / GLOBAL OPTIONS).
import { Flag, FlagError, FlagSet, type FlagSpec } from './flags.js';
import { goQuote } from './gofmt.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { alignTabs } from './tabwriter.js';

export interface RunContext {
  cmd: Command;
  args: string[];
  /** local, inherited and help flags of the command */
  flags: FlagSet;
  io: Io;
  /** the whole command line as given (watch finds its `--` command in it, as etcdctl reads os.Args) */
  argv?: readonly string[];
}

export interface CommandSpec {
  /** cobra's Use line; the first word is the name */
  use: string;
  short: string;
  long?: string;
  flags?: FlagSpec[];
  /** flags this command and all its sub-commands accept */
  persistentFlags?: FlagSpec[];
  children?: CommandSpec[];
  run?: (ctx: RunContext) => Promise<void>;
  /** names of flags that must be given */
  requiredFlags?: string[];
}

export interface ProgramInfo {
  /** the program's name, e.g. "tsetcdctl" */
  name: string;
  version: string;
  apiVersion: string;
  /**
   * etcdctl's own usage page, printed to stdout even on errors; or cobra's default one
   * (Usage: / Flags: / Global Flags:), printed to stderr on errors, as etcdutl has it
   */
  usageStyle: 'etcdctl' | 'cobra';
}

export class Command {
  readonly name: string;
  readonly children: Command[];
  readonly localFlags: Flag[];
  readonly persistentFlags: Flag[];
  helpFlag?: Flag;

  constructor(
    readonly spec: CommandSpec,
    readonly parent: Command | undefined,
  ) {
    this.name = spec.use.split(' ')[0]!;
    this.localFlags = (spec.flags ?? []).map((f) => new Flag(f));
    this.persistentFlags = (spec.persistentFlags ?? []).map((f) => new Flag(f));
    this.children = (spec.children ?? []).map((c) => new Command(c, this)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get runnable(): boolean {
    return this.spec.run !== undefined;
  }

  get root(): Command {
    return this.parent ? this.parent.root : this;
  }

  /** "tsetcdctl member list" */
  get path(): string {
    return this.parent ? `${this.parent.path} ${this.name}` : this.name;
  }

  /** the path below the root: "member list" */
  get nameBelowRoot(): string {
    return this.parent && this.parent.parent ? `${this.parent.nameBelowRoot} ${this.name}` : this.name;
  }

  /** persistent flags of the ancestors (cobra's inherited flags) */
  inheritedFlags(): Flag[] {
    const out: Flag[] = [];
    const seen = new Set<string>();
    for (let c = this.parent; c; c = c.parent) {
      for (const f of c.persistentFlags) {
        if (!seen.has(f.spec.name)) {
          seen.add(f.spec.name);
          out.push(f);
        }
      }
    }
    return out;
  }

  /** flags cobra knows while it looks for sub-commands (no help flag yet) */
  findFlags(): FlagSet {
    return new FlagSet([...this.localFlags, ...this.persistentFlags, ...this.inheritedFlags()]);
  }

  /** every flag the command accepts, help included */
  allFlags(): FlagSet {
    return new FlagSet([...this.localFlags, ...this.persistentFlags, ...this.inheritedFlags(), this.ensureHelpFlag()]);
  }

  ensureHelpFlag(): Flag {
    this.helpFlag ??= new Flag({ name: 'help', short: 'h', kind: 'bool', def: 'false', usage: `help for ${this.name}` });
    return this.helpFlag;
  }

  /** a child by exact name, or by a prefix only one child has */
  childNamed(word: string): Command | undefined {
    const exact = this.children.find((c) => c.name === word);
    if (exact) return exact;
    const byPrefix = this.children.filter((c) => c.name.startsWith(word));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  }

  /** cobra's suggestions: names within edit distance 2 or starting with the word */
  suggestionsFor(word: string): string[] {
    const lower = word.toLowerCase();
    return this.children
      .filter((c) => c.name !== 'help')
      .filter((c) => c.runnable || c.children.length > 0)
      .filter((c) => editDistance(lower, c.name.toLowerCase()) <= 2 || c.name.toLowerCase().startsWith(lower))
      .map((c) => c.name);
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** cobra's Find: walks down the tree by the non-flag words of args. */
function findCommand(root: Command, args: string[]): { cmd: Command; rest: string[] } {
  let cmd = root;
  let rest = args;
  for (;;) {
    const words = cmd.findFlags().nonFlagWords(rest);
    const next = words.length > 0 ? cmd.childNamed(words[0]!) : undefined;
    if (!next) return { cmd, rest };
    const at = rest.indexOf(words[0]!);
    rest = [...rest.slice(0, at), ...rest.slice(at + 1)];
    cmd = next;
  }
}

function unknownCommandError(root: Command, word: string): string {
  const suggestions = root.suggestionsFor(word);
  let msg = `unknown command ${goQuote(word)} for ${goQuote(root.path)}`;
  if (suggestions.length > 0) msg += '\n\nDid you mean this?\n' + suggestions.map((s) => `\t${s}\n`).join('');
  return msg;
}

/** etcdctl's flag listing: `  -w, --write-out="simple"\t...` and `      --prefix[=false]\t...`. */
function flagLines(flags: Flag[]): string {
  const sorted = [...flags].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
  return sorted
    .map((f) => {
      const lead = f.spec.short ? `  -${f.spec.short}, --${f.spec.name}` : `      --${f.spec.name}`;
      const def = new Flag(f.spec).toString();
      const shown = f.spec.kind === 'string' ? goQuote(def) : def;
      const value = f.takesNoValue ? `[=${shown}]` : `=${shown}`;
      return `${lead}${value}\t${f.spec.usage}\n`;
    })
    .join('');
}

/** Every command below cmd, depth first in name order (etcdctl lists nested ones too). */
function descendants(cmd: Command): Command[] {
  return cmd.children.flatMap((c) => [c, ...descendants(c)]);
}

/** The usage page printed for --help, bad flags and non-runnable commands. */
export function usageText(cmd: Command, program: ProgramInfo): string {
  return program.usageStyle === 'cobra' ? cobraUsage(cmd) : etcdctlUsage(cmd, program);
}

function etcdctlUsage(cmd: Command, program: ProgramInfo): string {
  // every command has at least -h, so cobra always appends "[flags]"
  let useLine = cmd.parent ? `${cmd.parent.path} ${cmd.spec.use}` : cmd.spec.use;
  if (!useLine.includes('[flags]')) useLine += ' [flags]';
  let t = `NAME:\n\t${cmd.nameBelowRoot} - ${cmd.spec.short}\n\nUSAGE:\n\t${useLine}\n`;
  if (!cmd.parent) t += `\nVERSION:\n\t${program.version}\n`;
  if (cmd.children.length > 0) {
    t += `\nAPI VERSION:\n\t${program.apiVersion}\n`;
    t += '\n\nCOMMANDS:\n';
    for (const c of descendants(cmd)) {
      if (!c.runnable) continue;
      const rel = c.path.slice(cmd.path.length + 1);
      t += `\t${rel}\t${c.spec.short}\n`;
    }
  }
  if (cmd.spec.long) {
    t += '\nDESCRIPTION:\n';
    for (const line of cmd.spec.long.replace(/^[\n\t ]+|[\n\t ]+$/g, '').split('\n')) t += `\t${line}\n`;
  }
  t += `\nOPTIONS:\n${flagLines([...cmd.localFlags, ...cmd.persistentFlags, cmd.ensureHelpFlag()])}`;
  const inherited = cmd.inheritedFlags();
  if (inherited.length > 0) t += `\nGLOBAL OPTIONS:\n${flagLines(inherited)}`;
  return alignTabs(t + '\n');
}

/** pflag's FlagUsages: `  -w, --write-out string   usage (default "simple")`, aligned. */
function pflagUsages(flags: Flag[]): string {
  const typeNames: Record<string, string> = { string: 'string', int64: 'int', duration: 'duration', stringSlice: 'strings', bool: '' };
  const zero: Record<string, string[]> = { string: [''], int64: ['0'], duration: ['0', '0s'], stringSlice: ['[]'], bool: ['false'] };
  const sorted = [...flags].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
  const heads = sorted.map((f) => {
    const lead = f.spec.short ? `  -${f.spec.short}, --${f.spec.name}` : `      --${f.spec.name}`;
    const type = typeNames[f.spec.kind]!;
    return type === '' ? lead : `${lead} ${type}`;
  });
  const width = Math.max(...heads.map((h) => h.length)) + 1;
  return sorted
    .map((f, i) => {
      const def = new Flag(f.spec).toString();
      let usage = f.spec.usage;
      if (!zero[f.spec.kind]!.includes(def)) usage += f.spec.kind === 'string' ? ` (default ${goQuote(def)})` : ` (default ${def})`;
      return `${heads[i]!} ${' '.repeat(width - heads[i]!.length)} ${usage}\n`;
    })
    .join('');
}

/** cobra's default usage template. */
function cobraUsage(cmd: Command): string {
  const available = cmd.children.filter((c) => c.runnable || c.children.length > 0);
  let t = 'Usage:';
  if (cmd.runnable) t += `\n  ${cmd.parent ? `${cmd.parent.path} ${cmd.spec.use}` : cmd.spec.use}${cmd.spec.use.includes('[flags]') ? '' : ' [flags]'}`;
  if (available.length > 0) {
    t += `\n  ${cmd.path} [command]\n\nAvailable Commands:`;
    const pad = Math.max(11, ...cmd.children.map((c) => c.name.length));
    for (const c of available) t += `\n  ${c.name.padEnd(pad)} ${c.spec.short}`;
  }
  t += `\n\nFlags:\n${pflagUsages([...cmd.localFlags, ...cmd.persistentFlags, cmd.ensureHelpFlag()]).trimEnd()}`;
  const inherited = cmd.inheritedFlags();
  if (inherited.length > 0) t += `\n\nGlobal Flags:\n${pflagUsages(inherited).trimEnd()}`;
  if (available.length > 0) t += `\n\nUse "${cmd.path} [command] --help" for more information about a command.`;
  return t + '\n';
}

/**
 * Runs the command line like cobra's Execute under etcdctl's main: errors are printed
 * as "Error: ..." (once by cobra, once more by main) and exit with code 1.
 */
export async function execute(rootSpec: CommandSpec, program: ProgramInfo, argv: string[], io: Io): Promise<void> {
  const root = new Command(rootSpec, undefined);
  const helpSpec: CommandSpec = {
    use: 'help [command]',
    short: 'Shows the help of any command',
    run: async (ctx) => helpTopic(root, program, ctx.args, io),
  };
  root.children.push(new Command(helpSpec, root));
  root.children.sort((a, b) => (a.name < b.name ? -1 : 1));

  const { cmd, rest } = findCommand(root, argv);
  const leftover = cmd.findFlags().nonFlagWords(rest);
  if (cmd === root && leftover.length > 0 && cmd.children.length > 0) {
    const msg = unknownCommandError(root, leftover[0]!);
    io.err(`Error: ${msg}\nRun '${cmd.path} --help' for usage.\n`);
    throw new CtlExit(ExitCode.Error, msg);
  }

  const flags = cmd.allFlags();
  let args: string[];
  try {
    args = flags.parse(rest);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    usageError(cmd, program, io, err.message);
  }
  if (flags.get('help').bool || !cmd.runnable) {
    io.out(usageText(cmd, program));
    return;
  }
  const missing = (cmd.spec.requiredFlags ?? []).filter((name) => !flags.get(name).changed);
  if (missing.length > 0) usageError(cmd, program, io, `required flag(s) "${missing.join('", "')}" not set`);
  await cmd.spec.run!({ cmd, args, flags, io, argv });
}

/** cobra's report of a bad command line: the error, the usage, and exit 1. */
function usageError(cmd: Command, program: ProgramInfo, io: Io, message: string): never {
  io.err(`Error: ${message}\n`);
  if (program.usageStyle === 'cobra') {
    io.err(usageText(cmd, program) + '\n');
  } else {
    // etcdctl's usage function writes to stdout; cobra then prints its empty result
    io.out(usageText(cmd, program));
    io.err('\n');
  }
  throw new CtlExit(ExitCode.Error, message);
}

function helpTopic(root: Command, program: ProgramInfo, args: string[], io: Io): void {
  const { cmd, rest } = findCommand(root, args);
  const leftover = cmd.findFlags().nonFlagWords(rest);
  if (cmd === root && leftover.length > 0) {
    io.err(`Unknown help topic [${args.map((a) => '`' + a + '`').join(' ')}]\n`);
    io.out(usageText(root, program));
    return;
  }
  io.out(usageText(cmd, program));
}
