// tsetcdutl: etcdutl's offline commands (defrag, version) for tsetcd data directories.
import { runUtl } from './utl/main.js';

const argv = process.argv.slice(2);
// pki loads @peculiar/x509, so only when asked for
if (argv[0] === 'pki') void import('./utl/pki.js').then((m) => m.runPki(argv.slice(1)));
else void runUtl(argv);
