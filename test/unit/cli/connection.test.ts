import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/args.js';
import { channelSettings } from '../../../src/cli/connection.js';
import { makeCertificates } from '../../helpers/tls.js';

describe('the CLI --ca-file', () => {
  const certs = makeCertificates();
  const der = join(certs.dir, 'ca.der');
  execFileSync('openssl', ['x509', '-in', certs.ca, '-outform', 'DER', '-out', der]);
  const settings = (caFile: string) => () => channelSettings('localhost:50051', { tls: true, caFile, clientCert: undefined });

  it('without a PEM certificate (a key, a DER file) is bad usage naming the flag, not a channel that trusts nothing', () => {
    expect(settings(certs.serverKey)).toThrow(UsageError);
    expect(settings(certs.serverKey)).toThrow(`--ca-file: no PEM certificate in ${certs.serverKey}`);
    expect(settings(der)).toThrow(`--ca-file: no PEM certificate in ${der}`);
  });

  it('with one is taken', () => {
    expect(settings(certs.ca)).not.toThrow();
  });
});
