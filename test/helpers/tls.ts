import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway CA, a server certificate for 127.0.0.1/localhost (or the names `serverNames` gives,
 * as openssl's subjectAltName writes them) and a client certificate (openssl).
 */
export function makeCertificates(serverNames = 'DNS:localhost,IP:127.0.0.1'): {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'llmo-tls-'));
  const p = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  const issue = (name: string, subject: string, ext: string) => {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
    writeFileSync(p(`${name}.ext`), ext);
    run([
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      p(`${name}.crt`),
      '-extfile',
      p(`${name}.ext`),
    ]);
  };
  issue('server', '/CN=localhost', `subjectAltName=${serverNames}\nextendedKeyUsage=serverAuth\n`);
  issue('client', '/CN=test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
  };
}
