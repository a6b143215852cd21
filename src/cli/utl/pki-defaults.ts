// tsetcdutl pki print-defaults TYPE and pki version, as cfssl prints them.
// print-defaults writes the template cfssl writes for TYPE (csr or config), byte for byte,
// so `tsetcdutl pki print-defaults csr > x.json` starts the same edit as with cfssl;
// "list" and any unknown TYPE print the list of types (exit 0, as cfssl); no TYPE is an
// error (exit 1). version prints cfssl's three lines with tsetcd's version and runtime.
import { TSETCD_VERSION } from '../version.js';
import type { PkiIo } from './pki-io.js';

const CSR_TEMPLATE = `{
    "CN": "example.net",
    "hosts": [
        "example.net",
        "www.example.net"
    ],
    "key": {
        "algo": "ecdsa",
        "size": 256
    },
    "names": [
        {
            "C": "US",
            "ST": "CA",
            "L": "San Francisco"
        }
    ]
}
`;

const CONFIG_TEMPLATE = `{
    "signing": {
        "default": {
            "expiry": "168h"
        },
        "profiles": {
            "www": {
                "expiry": "8760h",
                "usages": [
                    "signing",
                    "key encipherment",
                    "server auth"
                ]
            },
            "client": {
                "expiry": "8760h",
                "usages": [
                    "signing",
                    "key encipherment",
                    "client auth"
                ]
            }
        }
    }
}
`;

const TEMPLATES: Record<string, string> = { config: CONFIG_TEMPLATE, csr: CSR_TEMPLATE };

const PRINT_DEFAULTS_USAGE = `\ttsetcdutl pki print-defaults -- print a template request (csr) or signing configuration (config)

Usage of print-defaults:
        tsetcdutl pki print-defaults TYPE

TYPE "list" prints the types there are.
`;

function isHelp(argv: string[]): boolean {
  return argv.some((a) => a === '-h' || a === '-help' || a === '--help' || a === '--h');
}

export async function printDefaultsCommand(argv: string[], io: PkiIo): Promise<number> {
  if (isHelp(argv)) {
    io.err(PRINT_DEFAULTS_USAGE);
    return 0;
  }
  const type = argv[0];
  if (type === undefined) {
    io.err('not enough arguments are supplied --- please refer to the usage\n');
    return 1;
  }
  const template = TEMPLATES[type];
  if (template !== undefined) io.out(template + '\n');
  else io.out(`Default configurations are available for:\n${Object.keys(TEMPLATES).map((t) => `\t${t}\n`).join('')}`);
  return 0;
}

export async function versionCommand(argv: string[], io: PkiIo): Promise<number> {
  if (isHelp(argv)) {
    io.err('\ttsetcdutl pki version -- print the version of tsetcdutl pki\n\nUsage of version:\n\ttsetcdutl pki version\n');
    return 0;
  }
  io.out(`Version: ${TSETCD_VERSION}\nRevision: tsetcd\nRuntime: node${process.versions.node}\n`);
  return 0;
}
