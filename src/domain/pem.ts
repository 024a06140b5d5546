import { X509Certificate } from 'node:crypto';

/** Whether `pem` holds a PEM certificate OpenSSL can read (a key file or a DER file holds none, and OpenSSL ignores them silently). */
export function hasCertificate(pem: Buffer): boolean {
  const start = pem.indexOf('-----BEGIN CERTIFICATE-----');
  if (start < 0) return false;
  try {
    new X509Certificate(pem.subarray(start));
    return true;
  } catch {
    return false;
  }
}
