// tsetcdutl pki: a certificate authority that reads and writes what cfssl and cfssljson do,
// so the TLS steps of an etcd tutorial work with `cfssl` replaced by `tsetcdutl pki` and
// `cfssljson` by `tsetcdutl pki json`.
//
//   tsetcdutl pki gencert -initca ca-csr.json | tsetcdutl pki json -bare ca
//   tsetcdutl pki gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json -profile=peer member.json | tsetcdutl pki json -bare member
//   tsetcdutl pki certinfo -cert member.pem

import { PkiError } from '../../pki/errors.js';
import { FlagError } from './pki-flags.js';
import type { PkiIo } from './pki-io.js';

export type { PkiIo } from './pki-io.js';

const USAGE = `Usage: tsetcdutl pki COMMAND [flags] [arguments]

cfssl-compatible certificate authority for tsetcd and etcd TLS.

Commands:
  gencert    make a CA (-initca), renew one (-renewca), or a key and certificate signed by a CA
  json       split gencert's JSON into NAME.pem, NAME-key.pem and NAME.csr (like cfssljson)
  certinfo   say what a certificate (or CSR, or a server's -domain host:port) contains, in plain words or cfssl's JSON
  print-defaults  print a template csr or config (print-defaults list: which there are)
  version    print the version

Run "tsetcdutl pki COMMAND -h" for a command's flags.
`;

type Command = (argv: string[], io: PkiIo) => Promise<number>;

// loaded on use: json needs no X.509 library, and loading one costs a fifth of a second
const COMMANDS: Record<string, () => Promise<Command>> = {
  gencert: async () => (await import('./pki-gencert.js')).gencertCommand,
  json: async () => (await import('./pki-json.js')).jsonCommand,
  cfssljson: async () => (await import('./pki-json.js')).jsonCommand,
  certinfo: async () => (await import('./pki-certinfo.js')).certinfoCommand,
  'print-defaults': async () => (await import('./pki-defaults.js')).printDefaultsCommand,
  version: async () => (await import('./pki-defaults.js')).versionCommand,
};

/** Runs one pki command; returns the exit code (0 ok, 1 failed, 2 bad command line). */
export async function pkiMain(argv: string[], io: PkiIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(USAGE);
    return 2;
  }
  if (name === 'help' || name === '-h' || name === '--help') {
    io.out(USAGE);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`Error: unknown pki command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await load())(rest, io);
  } catch (e) {
    if (e instanceof FlagError) {
      io.err(`${e.message}\nRun "tsetcdutl pki ${name} -h" for usage.\n`);
      return 2;
    }
    if (e instanceof PkiError) {
      io.err(`Error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function processIo(): PkiIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    readStdin: () =>
      new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        process.stdin.on('data', (c: Buffer) => chunks.push(c));
        process.stdin.once('end', () => resolve(Buffer.concat(chunks)));
        process.stdin.once('error', reject);
      }),
  };
}

/** The process entry: runs the command and sets the exit code once output is written. */
export async function runPki(argv: string[]): Promise<void> {
  process.exitCode = await pkiMain(argv, processIo());
}
