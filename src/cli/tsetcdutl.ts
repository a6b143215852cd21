// tsetcdutl: etcdutl's offline commands (defrag, version) for tsetcd data directories.
import { runUtl } from './utl/main.js';

void runUtl(process.argv.slice(2));
