// tsetcdutl: etcdutl's offline commands for tsetcd data directories, plus cfssl's (pki).
// Both halves are loaded on use: pki needs no storage engine, and the rest no X.509
// library; each costs a good part of a second to load on a busy machine.
const argv = process.argv.slice(2);
if (argv[0] === 'pki') void import('./utl/pki.js').then((m) => m.runPki(argv.slice(1)));
else void import('./utl/main.js').then((m) => m.runUtl(argv));
