// The one place @peculiar/x509 is loaded. Its dependency injection container (tsyringe)
// needs the Reflect metadata API installed before the library's code runs, and ES module
// imports run in the order they are written here. Import x509 from this file, never directly.
//
// The library is loaded from its single-file browser build (build/x509.js: the same 66
// exports, its dependencies bundled in), not its CommonJS entry: resolving, reading and
// compiling the entry's ~80 files took ~110 ms of every pki command that signs or reads a
// certificate, the bundle ~30 ms (measured in docs/pki.md). The bundle defines a global
// `x509` when run as a script; running it in this context and taking that value back is
// what a <script> tag does, with nothing left on globalThis.
import 'reflect-metadata';
import type * as X509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { runInThisContext } from 'node:vm';

function loadBundle(): typeof X509 {
  const file = createRequire(import.meta.url).resolve('@peculiar/x509/build/x509.js');
  // wrapped in a function so that the bundle's top-level `var x509` stays local
  const run = runInThisContext(`(function () {\n${readFileSync(file, 'utf8')}\n;return x509;\n})`, { filename: file }) as () => typeof X509;
  return run();
}

const x509 = loadBundle();

type PeculiarCrypto = Parameters<typeof x509.cryptoProvider.set>[0];
x509.cryptoProvider.set(webcrypto as unknown as PeculiarCrypto);

/** node's WebCrypto, typed as @peculiar/x509 wants it (this project's lib has no DOM types). */
export const peculiarCrypto = webcrypto as unknown as PeculiarCrypto;

type CertParams = Parameters<typeof x509.X509CertificateGenerator.create>[0];
type CsrParams = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0];
export type PeculiarSigningKey = Extract<CertParams, { signingKey: unknown }>['signingKey'];
export type PeculiarAlgorithm = NonNullable<CertParams['signingAlgorithm']>;
export type PeculiarKeyPair = CsrParams['keys'];
export type { Extension as X509Extension, Name as X509Name, Pkcs10CertificateRequest as X509Csr, X509Certificate as X509Cert } from '@peculiar/x509';

export { x509 };
