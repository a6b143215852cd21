// tsetcdctl: etcdctl's commands, flags, ETCDCTL_* environment and output formats.
import { runCtl } from './ctl/main.js';

void runCtl(process.argv.slice(2));
