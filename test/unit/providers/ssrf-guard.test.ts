import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProviderUrl, checkResolvedHost } from '../../../src/config/ssrf.js';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { AnthropicProvider } from '../../../src/providers/anthropic/provider.js';
import { OpenAIProvider } from '../../../src/providers/openai/provider.js';
import { startSimulator, type Simulator } from '../../../src/simulator/index.js';
import type { Provider, ProviderRequest } from '../../../src/providers/types.js';

const refuse = (url: string): string | undefined => checkProviderUrl(url, { allowLinkLocal: false });

describe('the SSRF rules on addresses', () => {
  it('judge IPv6 forms that carry an IPv4 address by that address', () => {
    expect(refuse('http://[::169.254.169.254]/v1')).toMatch(/IPv4 169\.254\.169\.254\) is a link-local address/);
    expect(refuse('http://[64:ff9b::a9fe:a9fe]/v1')).toMatch(/IPv4 169\.254\.169\.254\) is a link-local address/);
    expect(refuse('http://[64:ff9b::169.254.169.254]/v1')).toMatch(/link-local/);
    expect(refuse('http://[::ffff:169.254.169.254]/v1')).toMatch(/link-local/);
    expect(refuse('http://[::ffff:0:169.254.169.254]/v1')).toMatch(/link-local/);
    expect(refuse('http://[::ffff:100.100.100.200]/v1')).toMatch(/cloud metadata address/);
    expect(refuse('http://[64:ff9b::100.100.100.200]/v1')).toMatch(/cloud metadata address/);
    // What they carry is allowed, so they are too: loopback and private addresses stay usable.
    expect(refuse('http://[64:ff9b::7f00:1]/v1')).toBeUndefined();
    expect(refuse('http://[::ffff:10.0.0.5]/v1')).toBeUndefined();
    expect(refuse('http://[::1]:11434/v1')).toBeUndefined();
    expect(refuse('http://[2001:db8::a9fe:a9fe]/v1')).toBeUndefined();
  });

  it('refuse the unspecified address in both families', () => {
    expect(refuse('http://0.0.0.0:8080/v1')).toMatch(/is an unspecified address/);
    expect(refuse('http://[::]/v1')).toMatch(/^:: is an unspecified address/);
    expect(refuse('http://[0:0:0:0:0:0:0:0]:8080/v1')).toMatch(/unspecified/);
    expect(refuse('http://[::0.0.0.0]/v1')).toMatch(/unspecified/);
    expect(refuse('http://[::ffff:0.0.0.0]/v1')).toMatch(/unspecified/);
  });

  it('apply to what a host name resolves to', async () => {
    const to = (address: string) => async () => [{ address }];
    const check = (address: string) => checkResolvedHost('https://llm.example/v1', { allowLinkLocal: false, lookup: to(address) });
    expect(await check('::')).toMatch(/resolves to unspecified address ::/);
    expect(await check('64:ff9b::a9fe:a9fe')).toMatch(/resolves to link-local address 64:ff9b::a9fe:a9fe/);
    expect(await check('::169.254.169.254')).toMatch(/link-local/);
    expect(await check('10.1.2.3')).toBeUndefined();
  });
});

function requestOf(model: string): ProviderRequest {
  return {
    upstreamModel: model,
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0,
    maxTokens: 20,
    signal: new AbortController().signal,
  };
}

async function failure(work: Promise<unknown>): Promise<OrchestratorError> {
  try {
    await work;
  } catch (err) {
    expect(err).toBeInstanceOf(OrchestratorError);
    return err as OrchestratorError;
  }
  throw new Error('expected the call to fail');
}

describe('providers and redirects', () => {
  /** Where the redirect points: 0.0.0.0 reaches this machine, which the rules refuse. */
  let target: http.Server;
  let targetHits = 0;
  let redirector: http.Server;
  let redirectorURL = '';

  beforeAll(async () => {
    target = http.createServer((_req, res) => {
      targetHits += 1;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => target.listen(0, '0.0.0.0', resolve));
    const targetPort = (target.address() as AddressInfo).port;
    redirector = http.createServer((req, res) => {
      req.resume();
      res.writeHead(302, { location: `http://0.0.0.0:${targetPort}${req.url ?? '/'}` }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    redirectorURL = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const s of [target, redirector]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  const cases: [string, () => Provider][] = [
    ['anthropic', () => new AnthropicProvider({ name: 'a', baseURL: redirectorURL, apiKey: 'k' })],
    ['openai', () => new OpenAIProvider({ name: 'o', baseURL: `${redirectorURL}/v1`, apiKey: 'k' })],
  ];
  for (const [kind, make] of cases) {
    it(`${kind}: a 302 to a refused address is not followed, unary or stream`, async () => {
      const provider = make();
      const unary = await failure(provider.complete(requestOf('m')));
      expect(unary.message).toMatch(/redirect \(HTTP 302\), which is not followed/);
      expect(unary.reason).toBe('UPSTREAM_ERROR');
      const stream = await failure(
        (async () => {
          for await (const _ of provider.stream(requestOf('m'))) {
            // nothing arrives
          }
        })(),
      );
      expect(stream.message).toMatch(/redirect/);
      expect(targetHits).toBe(0);
      await provider.close?.();
    });
  }
});

describe('the SSRF rules on every new connection', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ latencyScale: 0 });
  });
  afterAll(async () => sim.close());

  it('refuses a host name that resolves to a refused address after start-up (DNS rebinding)', async () => {
    let answer = '127.0.0.1';
    const asked: string[] = [];
    const resolve = async (hostname: string) => {
      asked.push(hostname);
      return [{ address: answer, family: answer.includes(':') ? 6 : 4 }];
    };
    const providers: Provider[] = [
      new OpenAIProvider({ name: 'o', baseURL: `http://llm.rebind.test:${sim.port}/v1`, apiKey: 'k', resolve }),
      new AnthropicProvider({ name: 'a', baseURL: `http://llm.rebind.test:${sim.port}`, apiKey: 'k', resolve }),
    ];
    for (const [i, provider] of providers.entries()) {
      answer = '127.0.0.1';
      await provider.complete(requestOf('gpt-4o'));
      expect(sim.requests).toHaveLength(1);
      // The name now points at the metadata service, and the upstream drops its idle
      // connections: the provider's next call needs a new connection, which must not be made.
      answer = i === 0 ? '169.254.169.254' : '::ffff:169.254.169.254';
      await sim.close();
      sim = await startSimulator({ latencyScale: 0, port: sim.port });
      const err = await failure(provider.complete(requestOf('gpt-4o')));
      expect(err.reason).toBe('UPSTREAM_UNREACHABLE');
      expect(err.message).toMatch(new RegExp(`llm\\.rebind\\.test resolves to link-local address ${answer.replaceAll('.', '\\.')}`));
      expect(err.retryable).toBe(false);
      expect(sim.requests).toHaveLength(0);
      expect(sim.connections().accepted).toBe(0);
      await provider.close?.();
      await sim.close();
      sim = await startSimulator({ latencyScale: 0, port: sim.port });
    }
    expect(new Set(asked)).toEqual(new Set(['llm.rebind.test']));
  });

  it('refuses an IP literal the rules forbid without connecting, unless allow_link_local', async () => {
    const refused = new OpenAIProvider({ name: 'o', baseURL: `http://0.0.0.0:${sim.port}/v1`, apiKey: 'k' });
    const before = sim.connections().accepted;
    const err = await failure(refused.complete(requestOf('gpt-4o')));
    expect(err.message).toMatch(/0\.0\.0\.0 is an unspecified address/);
    expect(sim.connections().accepted).toBe(before);
    await refused.close();
    const allowed = new OpenAIProvider({ name: 'o', baseURL: `http://0.0.0.0:${sim.port}/v1`, apiKey: 'k', allowLinkLocal: true });
    await allowed.complete(requestOf('gpt-4o'));
    expect(sim.connections().accepted).toBe(before + 1);
    await allowed.close();
  });
});
