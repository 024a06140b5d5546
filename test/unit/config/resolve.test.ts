import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config.js';
import { ConfigFileError } from '../../../src/config/file.js';
import { completeConfig, configProblems, resolveConfig } from '../../../src/config/resolve.js';
import { makeCertificates } from '../../helpers/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'llmo-resolve-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const PROVIDERS = `
providers:
  - { name: router, kind: openai, base_url: "https://openrouter.ai/api/v1", api_key_env: ROUTER_KEY }
  - { name: local, kind: openai, base_url: "http://127.0.0.1:11434/v1" }
`;

describe('resolveConfig', () => {
  it('gives the file providers in file order with their keys, then the OPENAI_* shorthand', () => {
    const config = resolveConfig({
      CONFIG_FILE: file('p.yaml', PROVIDERS),
      ROUTER_KEY: 'rk',
      OPENAI_API_KEY: 'ok',
      OPENAI_ORGANIZATION: 'org-1',
    });
    expect(config.providers.map((p) => [p.spec.name, p.apiKey])).toEqual([
      ['router', 'rk'],
      ['local', 'none'],
      ['openai', 'ok'],
    ]);
    expect(config.providers[2]?.spec.headers).toEqual({ 'OpenAI-Organization': 'org-1' });
    expect(config.file?.providers).toHaveLength(2);
  });

  it('leaves a provider whose key variable is unset without a key, for start-up to skip with a warning', () => {
    const config = resolveConfig({ CONFIG_FILE: file('q.yaml', PROVIDERS) });
    expect(config.providers.map((p) => [p.spec.name, p.apiKey])).toEqual([
      ['router', undefined],
      ['local', 'none'],
    ]);
  });

  // As OPENAI_API_KEY is read: a Secret mounted from a file often ends in a newline, and a blank value is no key.
  it('reads a key variable trimmed, and a blank one as unset', () => {
    const config = resolveConfig({ CONFIG_FILE: file('t.yaml', PROVIDERS), ROUTER_KEY: ' rk\n' });
    expect(config.providers[0]?.apiKey).toBe('rk');
    expect(resolveConfig({ CONFIG_FILE: file('t.yaml', PROVIDERS), ROUTER_KEY: '  ' }).providers[0]?.apiKey).toBeUndefined();
    const openai = file(
      't2.yaml',
      'providers:\n  - { name: openai, kind: openai, base_url: "https://example.com/v1", api_key_env: OPENAI_API_KEY }\n',
    );
    expect(resolveConfig({ CONFIG_FILE: openai, OPENAI_API_KEY: ' \t' }).providers[0]?.apiKey).toBeUndefined();
  });

  it('lets a file provider named openai replace the shorthand and read OPENAI_API_KEY from the settings', () => {
    const path = file(
      'o.yaml',
      'providers:\n  - { name: openai, kind: openai, base_url: "https://example.com/v1", api_key_env: OPENAI_API_KEY }\n',
    );
    const config = completeConfig(resolveConfig({ CONFIG_FILE: path, OPENAI_API_KEY: 'from-settings' }), {});
    expect(config.providers.map((p) => [p.spec.baseURL, p.apiKey])).toEqual([['https://example.com/v1', 'from-settings']]);
  });

  it('reads the config file once: completing a resolved config returns it as it is', () => {
    const path = file('once.yaml', PROVIDERS);
    const config = resolveConfig({ CONFIG_FILE: path });
    writeFileSync(path, 'not: [valid');
    expect(completeConfig(config, {})).toBe(config);
  });

  it('formats every configuration problem one way, file problems prefixed by the file', () => {
    const path = file('bad.yaml', 'providers: 3\n');
    let thrown: unknown;
    try {
      resolveConfig({ CONFIG_FILE: path });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigFileError);
    expect(configProblems(thrown)?.[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: providers: `));
    expect(configProblems(new ConfigError(['PORT: too big']))).toEqual(['PORT: too big']);
    expect(configProblems(new Error('disk on fire'))).toBeUndefined();
  });
});

describe('the TLS files', () => {
  const certs = makeCertificates();
  const problemsOf = (env: Record<string, string>): readonly string[] => {
    try {
      resolveConfig(env);
    } catch (err) {
      const problems = configProblems(err);
      if (problems) return problems;
      throw err;
    }
    return [];
  };

  it('are read at start-up: a missing one is a configuration problem naming its setting', () => {
    const missing = join(dir, 'missing.crt');
    expect(problemsOf({ TLS_CERT_FILE: missing, TLS_KEY_FILE: certs.serverKey })).toEqual([
      `TLS_CERT_FILE: cannot read ${missing}: ENOENT`,
    ]);
  });

  it('refuse a key that is not the certificate’s, or is no key at all', () => {
    expect(problemsOf({ TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.clientKey })).toEqual([
      'TLS_KEY_FILE: not the private key of the certificate in TLS_CERT_FILE',
    ]);
    expect(problemsOf({ TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.ca })[0]).toMatch(/^TLS_KEY_FILE: no PEM private key /);
    expect(problemsOf({ TLS_CERT_FILE: certs.serverKey, TLS_KEY_FILE: certs.serverKey })[0]).toMatch(
      /^TLS_CERT_FILE: no PEM certificate in /,
    );
  });

  it('say a key protected by a passphrase is encrypted, rather than that the file holds no key', () => {
    const encrypted = join(dir, 'encrypted.key');
    execFileSync('openssl', ['pkey', '-in', certs.serverKey, '-aes256', '-passout', 'pass:secret', '-out', encrypted], { stdio: 'pipe' });
    expect(problemsOf({ TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: encrypted })).toEqual([
      `TLS_KEY_FILE: the private key in ${encrypted} is encrypted (it has a passphrase), which the gateway cannot read: decrypt it with openssl pkey -in ${encrypted} -out <new file>`,
    ]);
  });

  it('blame a damaged certificate in the chain on TLS_CERT_FILE, not on the key', () => {
    const chain = file(
      'damaged-chain.crt',
      `${readFileSync(certs.serverCert, 'utf8')}-----BEGIN CERTIFICATE-----\nMIIBbad\n-----END CERTIFICATE-----\n`,
    );
    const problems = problemsOf({ TLS_CERT_FILE: chain, TLS_KEY_FILE: certs.serverKey });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^TLS_CERT_FILE: a certificate in ${chain} cannot be read \\(`));
  });

  it('say a chain that does not start with the key’s certificate is out of order, rather than blame the key', () => {
    const reversed = file('reversed-chain.crt', `${readFileSync(certs.ca, 'utf8')}${readFileSync(certs.serverCert, 'utf8')}`);
    expect(problemsOf({ TLS_CERT_FILE: reversed, TLS_KEY_FILE: certs.serverKey })).toEqual([
      `TLS_CERT_FILE: the certificate of the key in TLS_KEY_FILE is not the first in ${reversed}: put the server's certificate first, then the certificates that signed it`,
    ]);
    const chain = file('chain.crt', `${readFileSync(certs.serverCert, 'utf8')}${readFileSync(certs.ca, 'utf8')}`);
    expect(problemsOf({ TLS_CERT_FILE: chain, TLS_KEY_FILE: certs.serverKey })).toEqual([]);
    expect(problemsOf({ TLS_CERT_FILE: reversed, TLS_KEY_FILE: certs.clientKey })).toEqual([
      'TLS_KEY_FILE: not the private key of the certificate in TLS_CERT_FILE',
    ]);
  });

  it('refuse a client CA file without a certificate, which would refuse every client', () => {
    const tls = { TLS_CERT_FILE: certs.serverCert, TLS_KEY_FILE: certs.serverKey };
    expect(problemsOf({ ...tls, TLS_CLIENT_CA_FILE: join(certs.dir, 'ca.key') })).toEqual([
      `TLS_CLIENT_CA_FILE: no PEM certificate in ${join(certs.dir, 'ca.key')}`,
    ]);
    expect(problemsOf({ ...tls, TLS_CLIENT_CA_FILE: certs.ca })).toEqual([]);
  });
});

describe('the simulator port', () => {
  const problemsOf = (env: Record<string, string>): readonly string[] => {
    try {
      resolveConfig(env);
      return [];
    } catch (err) {
      return configProblems(err) ?? [String(err)];
    }
  };

  // A SIMULATOR_PORT the gateway itself listens on failed start-up as "already in use", as if another program held it.
  it('is refused when the running simulator would take a port of the gateway, naming both settings', () => {
    expect(problemsOf({ SIMULATOR_PORT: '8080' })).toEqual(['SIMULATOR_PORT: 8080 is HTTP_PORT too: give each its own port']);
    expect(problemsOf({ PORT: '9000', SIMULATOR_PORT: '9000' })).toEqual(['SIMULATOR_PORT: 9000 is PORT too: give each its own port']);
    expect(problemsOf({ SIMULATOR: 'on', OPENAI_API_KEY: 'k', SIMULATOR_PORT: '9464' })).toEqual([
      'SIMULATOR_PORT: 9464 is METRICS_PORT too: give each its own port',
    ]);
  });

  it('is not checked when the simulator does not run, or the other listener is off or elsewhere', () => {
    expect(problemsOf({ OPENAI_API_KEY: 'k', SIMULATOR_PORT: '8080' })).toEqual([]);
    expect(problemsOf({ SIMULATOR: 'off', SIMULATOR_PORT: '8080' })).toEqual([]);
    expect(problemsOf({ HTTP_ENABLED: 'false', SIMULATOR_PORT: '8080' })).toEqual([]);
    expect(problemsOf({ HTTP_HOST: '10.0.0.1', SIMULATOR_PORT: '8080' })).toEqual([]);
  });
});
