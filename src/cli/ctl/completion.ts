// `completion bash|zsh|fish|powershell` (etcdctl 3.6) and the hidden `__complete`
// command the scripts call. The scripts are thin: each hands the words typed so far to
// `tsetcdctl __complete <words...> <word being completed>`, which answers one
// candidate per line ("name<TAB>description") and a last line ":<directive>" (4: do
// not fall back to file names, 0: do). So the candidates always follow the command
// tree the binary has, flags included, and only one piece of code knows it.
import { Command, usageText, type CommandSpec, type ProgramInfo } from './cmdtree.js';
import type { Flag } from './flags.js';
import { CtlExit, ExitCode, type Io } from './io.js';
import { OUTPUT_FORMATS } from './printers.js';

export const SHELLS = ['bash', 'zsh', 'fish', 'powershell'] as const;
const NO_FILES = 4;
const FILES = 0;

/** Candidates for what is being typed after `words` (the words before it, program excluded). */
export function completions(root: Command, words: string[], current: string): { lines: string[]; directive: number } {
  let cmd = root;
  for (const w of cmd.findFlags().nonFlagWords(words)) {
    const next = cmd.childNamed(w);
    if (!next) break;
    cmd = next;
  }
  const flags = [...cmd.localFlags, ...cmd.persistentFlags, ...cmd.inheritedFlags(), cmd.ensureHelpFlag()];
  const previous = words[words.length - 1];
  const valueOf = previous?.startsWith('-') && !previous.includes('=') ? flagNamed(flags, previous) : undefined;
  if (valueOf && !valueOf.takesNoValue) {
    if (valueOf.spec.name === 'write-out') return { lines: OUTPUT_FORMATS.filter((f) => f.startsWith(current)), directive: NO_FILES };
    return { lines: [], directive: FILES };
  }
  if (current.startsWith('-')) {
    const lines = flags
      .map((f) => [`--${f.spec.name}`, f.spec.usage] as const)
      .filter(([name]) => name.startsWith(current))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, usage]) => `${name}\t${usage}`);
    return { lines, directive: NO_FILES };
  }
  if (cmd.children.length > 0) {
    const lines = cmd.children.filter((c) => c.name.startsWith(current)).map((c) => `${c.name}\t${c.spec.short}`);
    return { lines, directive: NO_FILES };
  }
  if (cmd.name === 'completion') return { lines: SHELLS.filter((s) => s.startsWith(current)), directive: NO_FILES };
  // arguments: keys, IDs, file names; only file names can be offered
  return { lines: [], directive: FILES };
}

function flagNamed(flags: Flag[], word: string): Flag | undefined {
  if (word.startsWith('--')) return flags.find((f) => f.spec.name === word.slice(2));
  return word.length === 2 ? flags.find((f) => f.spec.short === word[1]) : undefined;
}

/** Runs `__complete`: prints the candidates and the directive. */
export function runComplete(rootSpec: CommandSpec, args: string[], io: Io): void {
  const root = new Command(rootSpec, undefined);
  const current = args.length > 0 ? args[args.length - 1]! : '';
  const { lines, directive } = completions(root, args.slice(0, -1), current);
  io.out(lines.map((l) => l + '\n').join('') + `:${directive}\n`);
}

function bashScript(prog: string): string {
  const fn = `__${prog.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;
  return `# bash completion for ${prog}: the candidates come from \`${prog} __complete\`.
${fn}() {
    local cur=\${COMP_WORDS[COMP_CWORD]}
    local out line directive=0
    out=$("\${COMP_WORDS[0]}" __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
    COMPREPLY=()
    while IFS='' read -r line; do
        case $line in
            :*) directive=\${line#:} ;;
            '') ;;
            *) COMPREPLY+=("\${line%%$'\\t'*}") ;;
        esac
    done <<< "$out"
    if (( \${#COMPREPLY[@]} == 0 && (directive & ${NO_FILES}) == 0 )); then
        compopt -o default 2>/dev/null
    fi
}
complete -F ${fn} ${prog}
`;
}

function zshScript(prog: string): string {
  return `#compdef ${prog}
# zsh completion for ${prog}: the candidates come from \`${prog} __complete\`.
_${prog}() {
    local -a lines candidates
    local line directive=0
    lines=("\${(@f)$(\${words[1]} __complete \${words[2,CURRENT-1]} "\${words[CURRENT]}" 2>/dev/null)}")
    for line in $lines; do
        if [[ $line == :* ]]; then directive=\${line#:}; continue; fi
        [[ -n $line ]] && candidates+=("\${\${line%%$'\\t'*}//:/\\\\:}:\${line#*$'\\t'}")
    done
    if (( \${#candidates} )); then
        _describe '${prog}' candidates
    elif (( (directive & ${NO_FILES}) == 0 )); then
        _files
    fi
}
compdef _${prog} ${prog}
`;
}

function fishScript(prog: string): string {
  return `# fish completion for ${prog}: the candidates come from \`${prog} __complete\`.
function __${prog}_complete
    set -l words (commandline -opc)
    set -l current (commandline -ct)
    $words[1] __complete $words[2..-1] $current 2>/dev/null | string match -v -r '^:'
end
complete -c ${prog} -f -a '(__${prog}_complete)'
`;
}

function powershellScript(prog: string): string {
  return `# PowerShell completion for ${prog}: the candidates come from \`${prog} __complete\`.
Register-ArgumentCompleter -Native -CommandName '${prog}' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | ForEach-Object { $_.ToString() })
    $before = @($words | Select-Object -Skip 1)
    if ($wordToComplete -ne '' -and $before.Count -gt 0) { $before = @($before | Select-Object -First ($before.Count - 1)) }
    & $words[0] __complete @before $wordToComplete 2>$null | Where-Object { $_ -notlike ':*' -and $_ -ne '' } | ForEach-Object {
        $name, $description = $_ -split "\`t", 2
        if (-not $description) { $description = $name }
        [System.Management.Automation.CompletionResult]::new($name, $name, 'ParameterValue', $description)
    }
}
`;
}

export function completionScript(shell: (typeof SHELLS)[number], prog: string): string {
  switch (shell) {
    case 'bash':
      return bashScript(prog);
    case 'zsh':
      return zshScript(prog);
    case 'fish':
      return fishScript(prog);
    default:
      return powershellScript(prog);
  }
}

/** The `completion` command; `program` names the binary the scripts complete. */
export function completionCommand(program: ProgramInfo): CommandSpec {
  const spec: CommandSpec = {
    use: 'completion [bash|zsh|fish|powershell]',
    short: 'Prints a shell completion script',
    long: `
Prints a script that makes the shell complete ${program.name}'s commands and flags.

Bash:   source <(${program.name} completion bash)
        or save it as /etc/bash_completion.d/${program.name}
Zsh:    ${program.name} completion zsh > "\${fpath[1]}/_${program.name}"   (with compinit enabled)
fish:   ${program.name} completion fish | source
        or save it as ~/.config/fish/completions/${program.name}.fish
PowerShell:
        ${program.name} completion powershell | Out-String | Invoke-Expression
`,
    run: async (ctx) => {
      // cobra's ExactArgs(1) and OnlyValidArgs
      let problem: string | undefined;
      if (ctx.args.length !== 1) problem = `accepts 1 arg(s), received ${ctx.args.length}`;
      else if (!(SHELLS as readonly string[]).includes(ctx.args[0]!)) problem = `invalid argument "${ctx.args[0]}" for "${ctx.cmd.path}"`;
      if (problem !== undefined) {
        ctx.io.err(`Error: ${problem}\n`);
        ctx.io.out(usageText(ctx.cmd, program));
        ctx.io.err('\n');
        throw new CtlExit(ExitCode.Error, problem);
      }
      ctx.io.out(completionScript(ctx.args[0] as (typeof SHELLS)[number], program.name));
    },
  };
  return spec;
}
