// tsetcdctl: etcdctl's commands, flags, ETCDCTL_* environment and output formats.
import { rawUserArgs } from './ctl/argv.js';
import { runCtl } from './ctl/main.js';

// arguments keep the shell's bytes, valid UTF-8 or not (see argv.ts)
void runCtl(rawUserArgs(process.argv));
