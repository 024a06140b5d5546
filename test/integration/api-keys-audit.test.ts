import * as grpc from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { ApiKeyServiceClient } from '../../src/gen/orchestrator/v1/keys.js';
import { startSimulator } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { callUnary } from '../helpers/grpc-client.js';

describe('the ApiKeyService audit lines', () => {
  it('name the key created or revoked (a name is no secret), and never its material', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const upstream = await startSimulator({ latencyScale: 0 });
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      HTTP_PORT: '0',
      METRICS_PORT: '0',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: upstream.baseURL,
      SIMULATOR: 'off',
      DATABASE_URL: 'sqlite::memory:',
    });
    const app = await startApp(config, createLogger('info', sink), {});
    const keys = new ApiKeyServiceClient(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
    try {
      const { key } = (await callUnary(keys.createApiKey.bind(keys), { name: 'ci-robot', scopes: { scopes: ['admin'] } } as never))
        .response as {
        key: string;
      };
      // Once a key exists the service asks for one: the new admin key revokes itself.
      await callUnary(keys.revokeApiKey.bind(keys), { name: 'ci-robot' } as never, { metadata: { authorization: `Bearer ${key}` } });
      await new Promise((r) => setTimeout(r, 50));
      const audit = lines.filter((l) => typeof l.msg === 'string' && /^API key (created|revoked)$/.test(l.msg));
      expect(audit.map((l) => [l.msg, l.keyName])).toEqual([
        ['API key created', 'ci-robot'],
        ['API key revoked', 'ci-robot'],
      ]);
      expect(JSON.stringify(lines)).not.toContain(key);
    } finally {
      keys.close();
      await app.stop(100);
      await upstream.close();
    }
  });
});
