import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { startApp } from '../../../src/app.js';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { ConfigFileError } from '../../../src/config/file.js';
import { writeConfigFile } from '../../helpers/config-file.js';

// DNS that points *.rebind.test at the cloud metadata service and everything else at a public address.
vi.mock('node:dns/promises', () => ({
  lookup: async (host: string) => [{ address: host.endsWith('rebind.test') ? '169.254.169.254' : '93.184.215.14', family: 4 }],
}));

async function startupError(env: Record<string, string>, processEnv: Record<string, string> = {}): Promise<unknown> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'silent',
    SIMULATOR: 'off',
    METRICS: 'off',
    HTTP_PORT: '0',
    ...env,
  });
  try {
    const app = await startApp(config, pino({ level: 'silent' }), processEnv);
    await app.stop(0);
  } catch (err) {
    return err;
  }
  throw new Error('expected start-up to be refused');
}

describe('start-up refuses a provider host that resolves to a link-local address', () => {
  it('as a config file error naming the file, providers[i].base_url and the problem', async () => {
    const file = writeConfigFile(
      `providers:
  - { name: public, kind: openai, base_url: "https://llm.example.com/v1", api_key_env: PUBLIC_KEY }
  - { name: sneaky, kind: openai, base_url: "https://llm.rebind.test./v1", api_key_env: SNEAKY_KEY }
include_builtin_models: false
models:
  - { id: m, provider: public, context_window: 8000, max_output_tokens: 1000, input_price_per_million: 0, output_price_per_million: 0, family: f, tier: small, quality: 0.5 }
`,
    );
    const err = await startupError({ CONFIG_FILE: file, DEFAULT_MODEL: 'm' }, { PUBLIC_KEY: 'k', SNEAKY_KEY: 'k' });
    expect(err).toBeInstanceOf(ConfigFileError);
    expect((err as ConfigFileError).file).toBe(file);
    expect((err as ConfigFileError).problems).toEqual([
      'providers[1].base_url: llm.rebind.test resolves to link-local address 169.254.169.254 (set allow_link_local to permit)',
    ]);
  });

  it('as a config error naming OPENAI_BASE_URL for the environment shorthand', async () => {
    const err = await startupError({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'https://openai.rebind.test/v1' });
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      expect.stringMatching(/^OPENAI_BASE_URL: openai\.rebind\.test resolves to link-local address 169\.254\.169\.254/),
    ]);
  });
});
