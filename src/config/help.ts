// `tsetcd --help`: the usage lines, then every flag grouped in etcd's sections,
// generated from the flag table so the two never disagree.

import { FLAGS } from './flags.js';
import { formatGoDuration } from './goparse.js';
import type { FlagSpec, HelpSection } from './types.js';

const SECTIONS: readonly HelpSection[] = [
  'Member',
  'Clustering',
  'Security',
  'Auth',
  'Profiling and Monitoring',
  'Logging',
  'v2 Proxy (to be deprecated in v4)',
  'Experimental feature',
  'Unsafe feature',
  'TO BE DEPRECATED',
];

const SECTION_NOTES: Partial<Record<HelpSection, string>> = {
  'Unsafe feature': 'Unsafe flags can break the guarantees of the consensus protocol. Use them only to recover from a disaster.',
};

/** The short usage printed on its own after a command-line error. */
export function usageText(): string {
  return `Usage:

  tsetcd [flags]
    Start a tsetcd member.

  tsetcd gateway start [flags]
    Run etcd's L4 gateway: a TCP proxy to the cluster's client endpoints
    (tsetcd gateway start --help lists its flags).

  tsetcd --version
    Print the version and exit.

  tsetcd -h | --help
    Print this help and exit.

  tsetcd --config-file <path>
    Read the configuration from a YAML file (etcd's keys). Other command-line flags and
    ETCD_* environment variables are then ignored.
`;
}

function defaultShown(f: FlagSpec): string {
  if (f.defaultText !== undefined) return f.defaultText;
  const d = f.default;
  if (f.kind === 'duration') return formatGoDuration(d as number);
  if (Array.isArray(d)) return d.join(',');
  return String(d);
}

function flagLines(f: FlagSpec): string {
  const notes: string[] = [];
  if (f.since === 'tsetcd') notes.push('tsetcd only');
  else if (f.since !== undefined) notes.push(`etcd ${f.since}`);
  if (!f.supported) notes.push('refused: tsetcd has no v2 proxy');
  if (f.inert !== undefined) notes.push(`no effect in tsetcd: ${f.inert}`);
  const suffix = notes.length > 0 ? ` [${notes.join('; ')}]` : '';
  return `  --${f.name} '${defaultShown(f)}'\n    ${f.help}${suffix}\n`;
}

/** The full help: usage, then flags by section, then how the environment maps to flags. */
export function helpText(): string {
  let out = usageText();
  for (const section of SECTIONS) {
    const flags = FLAGS.filter((f) => f.section === section && f.hidden !== true);
    if (flags.length === 0) continue;
    out += `\n${section}:\n`;
    for (const f of flags) out += flagLines(f);
    const note = SECTION_NOTES[section];
    if (note !== undefined) out += `\n${note}\n`;
  }
  out +=
    '\nEvery flag can also be set through the environment as ETCD_<FLAG> (upper case, dashes as\n' +
    'underscores), e.g. ETCD_DATA_DIR for --data-dir. A flag given on the command line and in the\n' +
    'environment at the same time is an error.\n';
  return out;
}
