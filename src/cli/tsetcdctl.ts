// tsetcdctl: etcdctl's commands, flags, ETCDCTL_* environment and output formats.
import { rawUserArgs } from './ctl/argv.js';
import { holdSignals } from './ctl/held-signals.js';

/** global flags that take the next word as their value when written without "=" */
const VALUE_FLAGS = /^(--(endpoints|write-out|dial-timeout|command-timeout|keepalive-time|keepalive-timeout|cert|key|cacert|user|password|discovery-srv|discovery-srv-name)|-w|-d)$/;

/** The command's first word, found without loading the command tree. */
function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if (VALUE_FLAGS.test(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

// arguments keep the shell's bytes, valid UTF-8 or not (see argv.ts)
const argv = rawUserArgs(process.argv);
// lock and elect end cleanly on SIGINT/SIGTERM: hold those from the start
const word = commandWord(argv);
if (word === 'lock' || word === 'elect') holdSignals();
const { runCtl } = await import('./ctl/main.js');
void runCtl(argv);
