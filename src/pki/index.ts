// pki: keys, CSRs and certificates the way cfssl makes them, and the TLS start-up checks.
// See docs/pki.md.

export { PkiError } from './errors.js';
export { parseCertRequest, splitHosts, type CertRequest, type CaSection } from './request.js';
export { parseSigningConfig, builtinPolicy, selectProfile, type SigningPolicy, type SigningProfile } from './config.js';
export { initCA, renewCA, genCert, type GenResult, type GenOptions, type GenCertOptions } from './gencert.js';
export { signCertificate, type LogFn } from './signer.js';
export { createCsr, parseCsr, type ParsedCsr } from './csr.js';
export { generateKey, parsePrivateKeyPem, privateKeyPem, describeKey, DEFAULT_KEY, type KeySpec } from './keys.js';
export { parseCertificateDer, parseCertificatesPem, readCertificates, readTextFile, signedBy, type Certificate } from './cert.js';
export { describeCertificate, certinfoJson } from './certinfo.js';
export { goJsonMarshal } from './gojson.js';
export {
  checkTlsFiles,
  checkKeyMatchesCert,
  checkSignedByCA,
  checkCoversHost,
  checkValidity,
  checkExtKeyUsage,
  checkIsCA,
  coversHost,
  type TlsProblem,
  type TlsProblemKind,
  type TlsFilesCheck,
  type TlsUsage,
  type FileLabels,
} from './tls-check.js';
