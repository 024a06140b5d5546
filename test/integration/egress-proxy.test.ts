import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { loadConfigFile } from '../../src/config/file.js';
import { fetchText } from '../../src/catalog/sync/fetch-source.js';
import { createUndiciFetch } from '../../src/providers/http/undici-fetch.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { writeConfigFile } from '../helpers/config-file.js';
import {
  callUnary,
  type Clients,
  clientsFor,
  collectStream,
  streamRequest,
  unaryError,
  cancelAtFirstDelta,
} from '../helpers/grpc-client.js';
import { type ForwardProxy, startForwardProxy } from '../helpers/forward-proxy.js';
import { type SourceServer, startSourceServer } from '../helpers/source-server.js';
import { CatalogSource } from '../../src/gen/orchestrator/v1/models.js';

/**
 * Upstreams reached through a company's forward proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY). The
 * upstreams are named `*.invalid`, which only the proxy resolves: a call that answers went through it.
 * The proxy tunnels to port 443 only, as Squid's default configuration does.
 */
const ask = (model: string) => ({ model, messages: [], prompt: 'Say hi' });

describe('upstream calls with HTTP_PROXY set', () => {
  let openai: Simulator;
  let anthropic: Simulator;
  let proxy: ForwardProxy;
  let source: SourceServer;
  let app: App;
  let clients: Clients;
  const logs: string[] = [];

  beforeAll(async () => {
    [openai, anthropic, source] = await Promise.all([
      startSimulator({ latencyScale: 0 }),
      startSimulator({ latencyScale: 0 }),
      startSourceServer(),
    ]);
    source.set('/api/v1/models', {
      body: JSON.stringify({
        data: [{ id: 'acme/proxied', context_length: 32000, pricing: { prompt: '0.000001', completion: '0.000002' } }],
      }),
    });
    const port = (s: Simulator) => new URL(s.url).port;
    proxy = await startForwardProxy({
      auth: 'corp:s3cret-pass',
      connectPorts: [443],
      hosts: {
        'openai.invalid': '127.0.0.1',
        'anthropic.invalid': '127.0.0.1',
        'direct.invalid': '127.0.0.1',
        'catalog.invalid': '127.0.0.1',
      },
    });
    const file = writeConfigFile(`providers:
  - { name: alpha, kind: openai, base_url: "http://openai.invalid:${port(openai)}/v1", api_key_env: ALPHA_KEY }
  - { name: beta, kind: anthropic, base_url: "http://anthropic.invalid:${port(anthropic)}", api_key_env: BETA_KEY }
  - { name: local, kind: openai, base_url: "${openai.baseURL}", api_key_env: ALPHA_KEY }
  - { name: bypass, kind: openai, base_url: "http://direct.invalid:${port(openai)}/v1", api_key_env: ALPHA_KEY }
  - { name: secure, kind: openai, base_url: "https://secure.invalid/v1", api_key_env: ALPHA_KEY }
include_builtin_models: false
models:
  - { id: alpha-chat, provider: alpha, upstream_id: "alpha/chat-1", context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 2, family: a, tier: small, quality: 0.5 }
  - { id: beta-claude, provider: beta, upstream_id: claude-test, context_window: 8000, max_output_tokens: 100, input_price_per_million: 3, output_price_per_million: 15, family: b, tier: large, quality: 0.9 }
  - { id: local-chat, provider: local, upstream_id: "local/chat-1", context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 2, family: l, tier: small, quality: 0.5 }
  - { id: bypass-chat, provider: bypass, upstream_id: "bypass/chat-1", context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 2, family: d, tier: small, quality: 0.5 }
  - { id: secure-chat, provider: secure, upstream_id: "secure/chat-1", context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 2, family: s, tier: small, quality: 0.5 }
catalog:
  sync:
    openrouter: { url: "http://catalog.invalid:${new URL(source.url).port}/api/v1/models" }
`);
    const proxyUrl = proxy.url.replace('http://', 'http://corp:s3cret-pass@');
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      CONFIG_FILE: file,
      SIMULATOR: 'off',
      DEFAULT_MODEL: 'alpha-chat',
      DATABASE_URL: 'off',
      RETRY_MAX_ATTEMPTS: '1',
      METRICS_PORT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'debug',
      http_proxy: proxyUrl,
      NO_PROXY: 'example.com, .direct.invalid',
    });
    const log = createLogger('debug', { write: (line: string) => void logs.push(line) });
    app = await startApp(config, log, { ALPHA_KEY: 'a', BETA_KEY: 'b' });
    clients = clientsFor(app.port);
  });
  afterAll(async () => {
    clients?.close();
    await app?.stop(100);
    await Promise.all([openai?.close(), anthropic?.close(), proxy?.close(), source?.close()]);
  });

  it('sends a call to an http:// upstream through the proxy as a plain request (not a tunnel, which Squid allows to 443 only), with its credentials', async () => {
    const before = proxy.seen.length;
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), ask('alpha-chat'));
    expect(response.content).not.toBe('');
    expect(proxy.seen.slice(before)).toEqual([
      {
        target: expect.stringMatching(/^http:\/\/openai\.invalid:\d+\/v1\/chat\/completions$/),
        auth: `Basic ${Buffer.from('corp:s3cret-pass').toString('base64')}`,
      },
    ]);
  });

  it('streams through the proxy', async () => {
    // openai.invalid resolves only at the proxy: an answer came through it (on the tunnel the first call left open).
    const { messages, error } = await collectStream(clients.chat.streamChat(streamRequest({ ...ask('alpha-chat'), maxTokens: 20 })));
    expect(error).toBeUndefined();
    expect(messages.some((m) => m.event?.$case === 'completed')).toBe(true);
  });

  it('opens one tunnel per cancelled stream, and leaves none open', async () => {
    openai.injectFault({ kind: 'slow', tokensPerSecond: 20 });
    try {
      const before = proxy.connections();
      const cancels = 5;
      for (let i = 0; i < cancels; i++) {
        await cancelAtFirstDelta(clients.chat.streamChat(streamRequest({ ...ask('alpha-chat'), prompt: `cancel ${i}` })));
        await openai.waitForIdle(5_000);
      }
      // Give a stray reconnect time to show up.
      await new Promise((r) => setTimeout(r, 300));
      expect(openai.requests.slice(-cancels).map((r) => r.outcome)).toEqual(new Array(cancels).fill('client_closed'));
      // The first cancel may ride the connection an earlier call left open; none may open two.
      expect(proxy.connections() - before).toBeLessThanOrEqual(cancels);
      expect(openai.connections().open).toBe(0);
    } finally {
      openai.clearFaults();
    }
  });

  it('sends an Anthropic call through the proxy', async () => {
    const before = proxy.seen.length;
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), ask('beta-claude'));
    expect(response.content).not.toBe('');
    expect(proxy.seen.slice(before).map((s) => s.target)).toEqual([expect.stringContaining('anthropic.invalid:')]);
  });

  it('syncs the catalog through the proxy', async () => {
    const before = proxy.seen.length;
    const { reports } = (
      await callUnary(clients.models.syncCatalog.bind(clients.models), { source: CatalogSource.CATALOG_SOURCE_OPENROUTER })
    ).response;
    expect(reports.map((r) => [r.ok, r.error, r.models])).toEqual([[true, '', 1]]);
    expect(proxy.seen.slice(before).map((s) => s.target)).toEqual([expect.stringContaining('catalog.invalid:')]);
  });

  it('reaches loopback and the hosts NO_PROXY names directly', async () => {
    const before = proxy.seen.length;
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), ask('local-chat'));
    expect(response.content).not.toBe('');
    // direct.invalid resolves only at the proxy: reached directly, it cannot be found.
    const err = await unaryError(clients.chat.chat.bind(clients.chat), ask('bypass-chat'));
    expect(grpc.status[err.code]).toBe('UNAVAILABLE');
    expect(proxy.seen.slice(before)).toEqual([]);
  });

  it('reaches an https:// upstream directly when only HTTP_PROXY is set, as Go, curl and Python do', async () => {
    const before = proxy.seen.length;
    // secure.invalid resolves nowhere: reached directly, it cannot be found.
    const err = await unaryError(clients.chat.chat.bind(clients.chat), ask('secure-chat'));
    expect(grpc.status[err.code]).toBe('UNAVAILABLE');
    expect(proxy.seen.slice(before).map((s) => s.target)).toEqual([]);
  });

  it('never writes the proxy password to the log', () => {
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain('s3cret-pass');
  });
});

describe('the proxy settings', () => {
  it('read the lower-case spellings over the upper-case ones, and NO_PROXY=* as no proxy at all', () => {
    expect(loadConfig({ HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128' }).upstream.proxy).toMatchObject({
      httpsProxy: 'http://lower:3128',
      httpProxy: '',
    });
    expect(loadConfig({ HTTPS_PROXY: 'http://s:3128', HTTP_PROXY: 'http://p:3128' }).upstream.proxy).toMatchObject({
      httpsProxy: 'http://s:3128',
      httpProxy: 'http://p:3128',
    });
    expect(loadConfig({ HTTPS_PROXY: 'http://p:3128', NO_PROXY: '*' }).upstream.proxy).toBeUndefined();
    expect(loadConfig({ NO_PROXY: 'example.com' }).upstream.proxy).toBeUndefined();
  });

  it('read a proxy written without its scheme as http://, as curl, Go and Python do', () => {
    expect(loadConfig({ HTTPS_PROXY: 'proxy.corp:3128', HTTP_PROXY: 'corp:s3cret@10.0.0.5:8080' }).upstream.proxy).toMatchObject({
      httpsProxy: 'http://proxy.corp:3128',
      httpProxy: 'http://corp:s3cret@10.0.0.5:8080',
    });
  });
});

describe('a proxy setting that is not a URL', () => {
  it.each(['corp:s3cret@proxy:port', 'corp:s3cret@pro xy:3128', 'socks5://corp:s3cret@proxy:1080', 'ftp://corp:s3cret@proxy:3128'])(
    '%s is refused at start-up, naming the setting, without showing its password',
    (value) => {
      let message = '';
      try {
        loadConfig({ HTTPS_PROXY: value });
      } catch (err) {
        message = String(err);
      }
      expect(message).toMatch(/HTTPS_PROXY/);
      expect(message).not.toContain('s3cret');
    },
  );
});

describe("a provider's own proxy setting", () => {
  let upstream: Simulator;
  let shared: ForwardProxy;
  let own: ForwardProxy;
  let app: App;
  let clients: Clients;
  const logs: string[] = [];

  beforeAll(async () => {
    upstream = await startSimulator({ latencyScale: 0 });
    const hosts = { 'upstream.invalid': '127.0.0.1' };
    [shared, own] = await Promise.all([startForwardProxy({ hosts }), startForwardProxy({ hosts, auth: 'team:own-s3cret' })]);
    const base = `http://upstream.invalid:${new URL(upstream.url).port}/v1`;
    const model = (id: string, provider: string) =>
      `  - { id: ${id}, provider: ${provider}, upstream_id: "${id}/1", context_window: 8000, max_output_tokens: 100, input_price_per_million: 1, output_price_per_million: 2, family: ${id}, tier: small, quality: 0.5 }`;
    const file = writeConfigFile(`providers:
  - { name: viashared, kind: openai, base_url: "${base}" }
  - { name: viaown, kind: openai, base_url: "${base}", proxy: "${own.url.replace('http://', 'http://team:own-s3cret@')}" }
  - { name: direct, kind: openai, base_url: "${base}", proxy: none }
include_builtin_models: false
models:
${model('shared-chat', 'viashared')}
${model('own-chat', 'viaown')}
${model('direct-chat', 'direct')}
`);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      CONFIG_FILE: file,
      SIMULATOR: 'off',
      DEFAULT_MODEL: 'shared-chat',
      DATABASE_URL: 'off',
      RETRY_MAX_ATTEMPTS: '1',
      METRICS_PORT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'debug',
      HTTP_PROXY: shared.url,
    });
    const log = createLogger('debug', { write: (line: string) => void logs.push(line) });
    app = await startApp(config, log, {});
    clients = clientsFor(app.port);
  });
  afterAll(async () => {
    clients?.close();
    await app?.stop(100);
    await Promise.all([upstream?.close(), shared?.close(), own?.close()]);
  });

  it('sends a provider that names a proxy through it, the others through HTTP_PROXY', async () => {
    const { response } = await callUnary(clients.chat.chat.bind(clients.chat), ask('own-chat'));
    expect(response.content).not.toBe('');
    expect(own.seen).toEqual([{ target: expect.stringContaining('upstream.invalid:'), auth: expect.stringMatching(/^Basic /) }]);
    expect(shared.seen).toEqual([]);
    await callUnary(clients.chat.chat.bind(clients.chat), ask('shared-chat'));
    expect(shared.seen.map((s) => s.target)).toEqual([expect.stringContaining('upstream.invalid:')]);
  });

  it('reaches a provider with proxy: none directly', async () => {
    const before = shared.seen.length + own.seen.length;
    // upstream.invalid resolves only at the proxies: reached directly, it cannot be found.
    const err = await unaryError(clients.chat.chat.bind(clients.chat), ask('direct-chat'));
    expect(grpc.status[err.code]).toBe('UNAVAILABLE');
    expect(shared.seen.length + own.seen.length).toBe(before);
  });

  it('never writes its password to the log', () => {
    expect(logs.join('\n')).not.toContain('own-s3cret');
  });

  it('refuses a proxy that is not an http(s) URL or none, without showing its password', () => {
    const file = writeConfigFile(`providers:
  - { name: p, kind: openai, base_url: "http://upstream.invalid/v1", proxy: "socks5://team:own-s3cret@proxy:1080" }
`);
    let message = '';
    try {
      loadConfigFile(file);
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/providers\[0\]\.proxy/);
    expect(message).not.toContain('own-s3cret');
  });
});

describe('NO_PROXY with *', () => {
  it.each(['*', ' * ', 'internal.example, *', '*,.corp.example'])(
    'NO_PROXY=%j reaches every host directly, for upstream calls and catalog sync alike',
    async (noProxy) => {
      // 127.0.0.2 is no name the loopback rule covers: only NO_PROXY keeps it from the proxy, which is down.
      const upstream = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.2', resolve));
      const url = `http://127.0.0.2:${(upstream.address() as AddressInfo).port}/v1/models`;
      const proxy = loadConfig({ HTTP_PROXY: 'http://127.0.0.1:1', HTTPS_PROXY: 'http://127.0.0.1:1', NO_PROXY: noProxy }).upstream.proxy;
      const fetch = createUndiciFetch({ proxy });
      try {
        const status = await fetch(url).then(
          (res) => res.status,
          (err: Error) => String(err.cause ?? err),
        );
        expect(status).toBe(200);
        const text = await fetchText(url, { signal: AbortSignal.timeout(5_000), timeoutMs: 5_000, maxBytes: 1_000, proxy }).catch(String);
        expect(text).toBe('{"data":[]}');
      } finally {
        await fetch.close();
        await new Promise<void>((resolve) => upstream.close(() => resolve()));
      }
    },
  );
});

describe('NO_PROXY with an IPv6 address', () => {
  it('reaches an address NO_PROXY names bare (::ffff:7f00:1), as Go reads it, directly', async () => {
    const upstream = await startSimulator({ latencyScale: 0 });
    const proxy = await startForwardProxy();
    const fetch = createUndiciFetch({
      proxy: loadConfig({ HTTP_PROXY: proxy.url, NO_PROXY: 'example.com,::ffff:7f00:1' }).upstream.proxy,
    });
    try {
      const status = await fetch(`http://[::ffff:7f00:1]:${new URL(upstream.url).port}/v1/models`).then(
        (res) => res.status,
        (err: Error) => String(err.cause ?? err),
      );
      expect(proxy.seen.map((s) => s.target)).toEqual([]);
      expect(status).toBe(200);
    } finally {
      await fetch.close();
      await Promise.all([upstream.close(), proxy.close()]);
    }
  });
});

describe('a proxy that closes a tunnel without answering', () => {
  it('fails the call, without opening tunnel after tunnel', async () => {
    // gone.invalid:1 refuses the proxy's connection, and the proxy then drops the tunnel unanswered.
    const proxy = await startForwardProxy({ hosts: { 'gone.invalid': '127.0.0.1' } });
    const fetch = createUndiciFetch({ proxy: loadConfig({ HTTPS_PROXY: proxy.url }).upstream.proxy });
    try {
      const outcome = await Promise.race([
        fetch('https://gone.invalid:1/v1/models', { signal: AbortSignal.timeout(5_000) }).then(
          (res) => `HTTP ${res.status}`,
          (err: Error) => `${err.message}: ${String(err.cause)}`,
        ),
        new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 8 s'), 8_000)),
      ]);
      expect({ outcome, tunnels: proxy.seen.length }).toEqual({ outcome: expect.stringMatching(/^fetch failed/), tunnels: 1 });
    } finally {
      await fetch.close(100);
      await proxy.close();
    }
  });
});
