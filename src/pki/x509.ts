// The one place @peculiar/x509 is loaded. Its dependency injection container (tsyringe)
// needs the Reflect metadata API installed before the library's code runs, and ES module
// imports run in the order they are written here. Import x509 from this file, never directly.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

type PeculiarCrypto = Parameters<typeof x509.cryptoProvider.set>[0];
x509.cryptoProvider.set(webcrypto as unknown as PeculiarCrypto);

/** node's WebCrypto, typed as @peculiar/x509 wants it (this project's lib has no DOM types). */
export const peculiarCrypto = webcrypto as unknown as PeculiarCrypto;

type CertParams = Parameters<typeof x509.X509CertificateGenerator.create>[0];
type CsrParams = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0];
export type PeculiarSigningKey = Extract<CertParams, { signingKey: unknown }>['signingKey'];
export type PeculiarAlgorithm = NonNullable<CertParams['signingAlgorithm']>;
export type PeculiarKeyPair = CsrParams['keys'];

export { x509 };
