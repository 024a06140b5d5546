import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, type Config } from './config.js';
import { hasCertificate } from '../domain/pem.js';

/** The TLS files' contents, as the servers serve them. */
export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** TLS_CLIENT_CA_FILE: clients must present a certificate it signed. */
  readonly ca: Buffer | undefined;
}

/**
 * The TLS files, read once and checked as the servers will use them, so that a mistake stops
 * start-up naming its setting (ConfigError): a CA file without a certificate would otherwise
 * start a server that refuses every client, and a missing file or a wrong key would fail with a
 * bare OpenSSL error. Never re-read: a renewed certificate takes a restart.
 */
export function readTlsFiles(tls: Config['tls']): TlsFiles | undefined {
  if (!tls) return undefined;
  const problems: string[] = [];
  const read = (setting: string, path: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push(`${setting}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return undefined;
    }
  };
  const cert = read('TLS_CERT_FILE', tls.certFile);
  const key = read('TLS_KEY_FILE', tls.keyFile);
  const ca = tls.clientCaFile === undefined ? undefined : read('TLS_CLIENT_CA_FILE', tls.clientCaFile);
  // The chain is loaded alone first: loaded with the key, a damaged certificate past the first
  // fails with the same OpenSSL error as a damaged key, and the key would be blamed.
  const certFound = cert !== undefined && hasCertificate(cert);
  const unreadable = cert && certFound ? chainProblem(cert) : undefined;
  if (cert && !certFound) problems.push(`TLS_CERT_FILE: no PEM certificate in ${tls.certFile}`);
  else if (unreadable) problems.push(`TLS_CERT_FILE: a certificate in ${tls.certFile} cannot be read (${unreadable})`);
  else if (cert && key) {
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      problems.push(
        (err as NodeJS.ErrnoException).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
          ? laterCertificateOf(key, cert)
            ? `TLS_CERT_FILE: the certificate of the key in TLS_KEY_FILE is not the first in ${tls.certFile}: put the server's certificate first, then the certificates that signed it`
            : 'TLS_KEY_FILE: not the private key of the certificate in TLS_CERT_FILE'
          : ENCRYPTED_KEY.test(key.toString('latin1'))
            ? `TLS_KEY_FILE: the private key in ${tls.keyFile} is encrypted (it has a passphrase), which the gateway cannot read: decrypt it with openssl pkey -in ${tls.keyFile} -out <new file>`
            : `TLS_KEY_FILE: no PEM private key in ${tls.keyFile} (${(err as Error).message})`,
      );
    }
  }
  if (ca && tls.clientCaFile && !hasCertificate(ca)) problems.push(`TLS_CLIENT_CA_FILE: no PEM certificate in ${tls.clientCaFile}`);
  if (problems.length > 0 || !cert || !key) throw new ConfigError(problems);
  return { cert, key, ca };
}

/** PKCS#8 and the older OpenSSL header: no passphrase setting exists, so such a key never loads. */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m;

/** OpenSSL's message when the certificate chain does not load, or undefined. */
function chainProblem(cert: Buffer): string | undefined {
  try {
    createSecureContext({ cert });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Whether the key is that of a certificate past the first in the chain: OpenSSL pairs the key with
 * the first, so a chain concatenated in the wrong order reads as the wrong key.
 */
function laterCertificateOf(key: Buffer, chain: Buffer): boolean {
  const blocks = chain.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  try {
    const privateKey = createPrivateKey(key);
    return blocks.slice(1).some((pem) => new X509Certificate(pem).checkPrivateKey(privateKey));
  } catch {
    return false;
  }
}
