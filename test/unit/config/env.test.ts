import { describe, expect, it, vi } from 'vitest';
import { ConfigError, isDeployedEnvironment, loadConfig } from '../../../src/config/config.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('environment variables under the names other orchestrators use (COMPAT_ALIASES)', () => {
  it('reads MAX_RETRIES as retries after the first call', () => {
    expect(loadConfig({ MAX_RETRIES: '3' }).resilience.retry.maxAttempts).toBe(4);
    expect(loadConfig({ MAX_RETRIES: '0' }).resilience.retry.maxAttempts).toBe(1);
    expect(loadConfig({}).resilience.retry.maxAttempts).toBe(3);
  });

  it('reads REQUEST_TIMEOUT as the default deadline in seconds and MAX_CONCURRENT_REQUESTS as the batch-wide cap', () => {
    const config = loadConfig({ REQUEST_TIMEOUT: '12', MAX_CONCURRENT_REQUESTS: '10' });
    expect(config.defaults.timeoutMs).toBe(12_000);
    expect(config.batch.globalConcurrency).toBe(10);
  });

  it('refuses a compatibility name and ours set together, naming both', () => {
    expect(problemsOf({ MAX_RETRIES: '2', RETRY_MAX_ATTEMPTS: '3' })).toEqual([
      'MAX_RETRIES: set either MAX_RETRIES or RETRY_MAX_ATTEMPTS, not both (MAX_RETRIES is another name for RETRY_MAX_ATTEMPTS)',
    ]);
  });

  it('names the compatibility variable the user set when its value is invalid', () => {
    expect(problemsOf({ MAX_RETRIES: 'many' })).toEqual(['MAX_RETRIES: must be a whole number from 0 to 9 (got "many")']);
    expect(problemsOf({ MAX_RETRIES: '10' })).toEqual(['MAX_RETRIES: must be a whole number from 0 to 9 (got "10")']);
    expect(problemsOf({ MAX_RETRIES: '1e1' })).toEqual(['MAX_RETRIES: must be a whole number from 0 to 9 (got "1e1")']);
    expect(loadConfig({ MAX_RETRIES: '9' }).resilience.retry.maxAttempts).toBe(10);
    const [timeout] = problemsOf({ REQUEST_TIMEOUT: 'soon' });
    expect(timeout).toMatch(/^REQUEST_TIMEOUT \(seconds; our name: DEFAULT_TIMEOUT\): .* \(got "soon"\)$/);
  });

  it('accepts Python’s level names and ENVIRONMENT', () => {
    expect(loadConfig({ LOG_LEVEL: 'WARNING' }).logLevel).toBe('warn');
    expect(loadConfig({ LOG_LEVEL: 'CRITICAL' }).logLevel).toBe('fatal');
    expect(loadConfig({ LOG_LEVEL: 'INFO' }).logLevel).toBe('info');
    const config = loadConfig({ ENVIRONMENT: 'Production' });
    expect(config.environment).toBe('production');
    expect(config.tracing.environment).toBe('production');
    expect(loadConfig({}).environment).toBeUndefined();
    expect(loadConfig({ ENVIRONMENT: 'Staging' }).environment).toBe('staging');
    expect(problemsOf({ ENVIRONMENT: 'prod east' })[0]).toMatch(/^ENVIRONMENT: /);
  });

  it('counts every ENVIRONMENT but development, dev, test, testing and local as a real deployment', () => {
    for (const name of ['production', 'staging', 'prod', 'qa']) expect(isDeployedEnvironment(name)).toBe(true);
    for (const name of ['development', 'dev', 'test', 'testing', 'local', undefined]) expect(isDeployedEnvironment(name)).toBe(false);
  });
});

describe('breaker settings', () => {
  it('refuses a minimum rate of 0, which the breaker library would replace with its own default', () => {
    expect(problemsOf({ BREAKER_MIN_RPS: '0' })[0]).toMatch(/^BREAKER_MIN_RPS: /);
    expect(loadConfig({ BREAKER_MIN_RPS: '0.5' }).resilience.breaker.minRps).toBe(0.5);
  });
});

describe('millisecond settings', () => {
  // Node's timers fire a longer wait after 1 ms: a 30-day first-token timeout failed every stream at once.
  const TIMER_SETTINGS = [
    'RETRY_INITIAL_BACKOFF_MS',
    'RETRY_MAX_BACKOFF_MS',
    'BREAKER_SAMPLING_WINDOW_MS',
    'BREAKER_HALF_OPEN_AFTER_MS',
    'ATTEMPT_TIMEOUT_MS',
    'STREAM_FIRST_TOKEN_TIMEOUT_MS',
    'STREAM_INTER_TOKEN_TIMEOUT_MS',
    'SHUTDOWN_GRACE_MS',
    'DRAIN_DELAY_MS',
    'GRPC_KEEPALIVE_TIME_MS',
    'GRPC_KEEPALIVE_TIMEOUT_MS',
    'GRPC_MAX_CONNECTION_AGE_MS',
    'GRPC_MAX_CONNECTION_AGE_GRACE_MS',
    'GRPC_MAX_CONNECTION_IDLE_MS',
    'GRPC_REQUEST_MESSAGE_TIMEOUT_MS',
  ];

  it('refuse a wait longer than a timer can hold, naming the setting and the limit', () => {
    for (const name of TIMER_SETTINGS) {
      expect(problemsOf({ [name]: '2592000000' }), name).toEqual([
        `${name}: at most 2147483647 ms (about 24.8 days, the longest a timer waits) (got "2592000000")`,
      ]);
      expect(() => loadConfig({ [name]: '2147483647' }), name).not.toThrow();
    }
  });
});

describe('CACHE_MAX_ENTRIES', () => {
  // The in-memory cache reserves room for every entry when it is made: 100 million ran the process out of memory before it listened.
  it('refuses more entries than the process could reserve room for', () => {
    expect(problemsOf({ CACHE_MAX_ENTRIES: '100000000' })).toEqual([
      'CACHE_MAX_ENTRIES: Too big: expected number to be <=1000000 (got "100000000")',
    ]);
    expect(loadConfig({ CACHE_MAX_ENTRIES: '1000000' }).cache.maxEntries).toBe(1_000_000);
  });
});

describe('CACHE_MAX_BYTES', () => {
  it('defaults to 64 MiB and refuses less than 1 MiB', () => {
    expect(loadConfig({}).cache.maxBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({ CACHE_MAX_BYTES: '268435456' }).cache.maxBytes).toBe(268_435_456);
    expect(problemsOf({ CACHE_MAX_BYTES: '1000' })).toEqual(['CACHE_MAX_BYTES: Too small: expected number to be >=1048576 (got "1000")']);
  });
});

describe('ports', () => {
  // PORT=8080 (HTTP_PORT's default) failed start-up as "address already in use", as if another program held it.
  it('refuse the HTTP API or /metrics on the gRPC port, naming both settings', () => {
    expect(problemsOf({ PORT: '8080' })).toEqual(['HTTP_PORT: 8080 (its default) is PORT too: give each its own port']);
    expect(problemsOf({ PORT: '9000', HTTP_PORT: '9001', METRICS_PORT: '9000' })).toEqual([
      'METRICS_PORT: 9000 is PORT too: give each its own port',
    ]);
    expect(problemsOf({ HTTP_PORT: '9464' })).toEqual(['METRICS_PORT: 9464 (its default) is HTTP_PORT too: give each its own port']);
  });

  it('let them share a number when one is off, a free one, or on another address', () => {
    expect(() => loadConfig({ PORT: '8080', HTTP_ENABLED: 'false' })).not.toThrow();
    expect(() => loadConfig({ PORT: '9464', METRICS: 'off' })).not.toThrow();
    expect(() => loadConfig({ PORT: '0', HTTP_PORT: '0', METRICS_PORT: '0' })).not.toThrow();
    expect(() => loadConfig({ HOST: '10.0.0.1', PORT: '8080', HTTP_HOST: '127.0.0.1' })).not.toThrow();
    expect(problemsOf({ HOST: '0.0.0.0', PORT: '8080', HTTP_HOST: '127.0.0.1' })[0]).toMatch(
      /^HTTP_PORT: 8080 \(its default\) is PORT too/,
    );
  });
});

describe('the global rate limit variables', () => {
  it('read RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW seconds (60 by default); unset means no such limit', () => {
    expect(loadConfig({ RATE_LIMIT_REQUESTS: '10' }).globalRequestWindow).toEqual({ requests: 10, windowSeconds: 60 });
    expect(loadConfig({ RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_WINDOW: '10' }).globalRequestWindow).toEqual({
      requests: 5,
      windowSeconds: 10,
    });
    expect(loadConfig({}).globalRequestWindow).toBeUndefined();
    expect(problemsOf({ RATE_LIMIT_REQUESTS: '0' })[0]).toMatch(/^RATE_LIMIT_REQUESTS: /);
  });
});

describe('WORKERS', () => {
  it('is 1 by default, a number, or auto (one per CPU)', async () => {
    const { availableParallelism } = await import('node:os');
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ WORKERS: '3' }).workers).toBe(3);
    expect(loadConfig({ WORKERS: 'auto' }).workers).toBe(availableParallelism());
    expect(problemsOf({ WORKERS: '0' })[0]).toMatch(/^WORKERS: /);
  });

  it('auto on a machine with more CPUs than the 64 workers allowed starts 64, not a configuration error', async () => {
    vi.resetModules();
    vi.doMock('node:os', async (actual) => ({ ...(await actual<typeof import('node:os')>()), availableParallelism: () => 96 }));
    try {
      const { loadConfig: load } = await import('../../../src/config/config.js');
      expect(load({ WORKERS: 'auto' }).workers).toBe(64);
    } finally {
      vi.doUnmock('node:os');
      vi.resetModules();
    }
  });
});

describe('batch concurrency', () => {
  it('refuses a default above the largest concurrency a batch may ask for, which would refuse every batch that sets none', () => {
    expect(problemsOf({ BATCH_MAX_CONCURRENCY: '2' })).toEqual([
      'BATCH_DEFAULT_CONCURRENCY: 4 (its default) is more than BATCH_MAX_CONCURRENCY (2), so a Batch without concurrency would be refused',
    ]);
    expect(problemsOf({ BATCH_DEFAULT_CONCURRENCY: '20' })).toEqual([
      'BATCH_DEFAULT_CONCURRENCY: 20 is more than BATCH_MAX_CONCURRENCY (16, its default), so a Batch without concurrency would be refused',
    ]);
    expect(loadConfig({ BATCH_DEFAULT_CONCURRENCY: '2', BATCH_MAX_CONCURRENCY: '2' }).batch).toMatchObject({
      defaultConcurrency: 2,
      maxConcurrency: 2,
    });
  });
});

describe('OpenTelemetry export', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4317' };

  it('refuses OTLP/gRPC, which its OTLP/HTTP exporters would send every span and metric to in vain', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL']) {
      const [problem, ...more] = problemsOf({ ...endpoint, [name]: ' GRPC ' });
      expect(more).toEqual([]);
      expect(problem).toMatch(new RegExp(`^${name}: grpc is not supported`));
      expect(problem).toContain('4318');
    }
  });

  it('refuses a sampler OpenTelemetry does not know, or a ratio outside 0 to 1, which it would replace by sampling every trace', () => {
    expect(problemsOf({ ...endpoint, OTEL_TRACES_SAMPLER: 'TraceIdRatio', OTEL_TRACES_SAMPLER_ARG: '0.1' })).toEqual([
      expect.stringMatching(/^OTEL_TRACES_SAMPLER: "TraceIdRatio" is not one of always_on, .*parentbased_traceidratio/),
    ]);
    for (const arg of ['10%', '5', '-0.1']) {
      expect(problemsOf({ ...endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: arg })).toEqual([
        expect.stringMatching(new RegExp(`^OTEL_TRACES_SAMPLER_ARG: .*from 0 to 1 .*\\(got "${arg}"\\)`)),
      ]);
    }
    for (const [sampler, arg] of [
      ['traceidratio', '0.1'],
      ['parentbased_traceidratio', ''],
      ['always_off', 'anything'],
      ['', ''],
    ]) {
      expect(
        loadConfig({ ...endpoint, OTEL_TRACES_SAMPLER: sampler ?? '', OTEL_TRACES_SAMPLER_ARG: arg ?? '' }).tracing.otlpEndpoint,
      ).toBeDefined();
    }
    expect(loadConfig({ OTEL_TRACES_SAMPLER: 'bogus' }).tracing.otlpEndpoint).toBeUndefined();
  });

  it("refuses an endpoint that already ends in a signal's path, which spans and metrics would be posted under again", () => {
    for (const url of ['http://otel-collector:4318/v1/traces', 'https://u:secret@otlp.example.com/otlp/v1/metrics/']) {
      const [problem, ...more] = problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: url });
      expect(more).toEqual([]);
      expect(problem).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT: .*base URL.*\/v1\/traces/);
      expect(problem).not.toContain('secret');
    }
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com/otlp/' }).tracing.otlpEndpoint).toBe(
      'https://otlp.example.com/otlp/',
    );
  });

  it('takes the OTLP/HTTP protocols, and any protocol while nothing is exported', () => {
    for (const protocol of ['http/protobuf', 'http/json', '']) {
      expect(loadConfig({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: protocol }).tracing.otlpEndpoint).toBe(
        endpoint.OTEL_EXPORTER_OTLP_ENDPOINT,
      );
    }
    // Set for other services of a shared environment: this gateway exports nothing, so it does not matter.
    expect(loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).tracing.otlpEndpoint).toBeUndefined();
  });
});

describe('configuration errors', () => {
  const messageOf = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
      return '';
    } catch (err) {
      return err instanceof ConfigError ? err.problems.join('\n') : String(err);
    }
  };

  it('show the value of a setting whose name only mentions tokens or keys', () => {
    expect(messageOf({ DEFAULT_MAX_TOKENS: 'lots' })).toMatch(/^DEFAULT_MAX_TOKENS: .* \(got "lots"\)$/);
    expect(messageOf({ RETRY_BUDGET_MAX_TOKENS: '0' })).toMatch(/^RETRY_BUDGET_MAX_TOKENS: .* \(got "0"\)$/);
    expect(messageOf({ STREAM_FIRST_TOKEN_TIMEOUT_MS: '-5' })).toMatch(/^STREAM_FIRST_TOKEN_TIMEOUT_MS: .* \(got "-5"\)$/);
    expect(messageOf({ KEYS_REFRESH_MS: '10' })).toMatch(/^KEYS_REFRESH_MS: .* \(got "10"\)$/);
  });

  it('show a URL they refuse with its password masked, and no secret at all', () => {
    const redis = messageOf({ REDIS_URL: 'redis+tls://:hunter2-redis@redis.internal:6380' });
    expect(redis).toContain('REDIS_URL');
    expect(redis).toContain('redis+tls://:***@redis.internal:6380');
    expect(redis).not.toContain('hunter2');
    const pg = messageOf({ DATABASE_URL: 'mysql://llmo:p@ss-word@db/x' });
    expect(pg).toContain('mysql://llmo:***@db/x');
    expect(pg).not.toContain('ss-word');
  });

  it('refuse a REDIS_URL whose database is not a number, which Redis would not select', () => {
    expect(messageOf({ REDIS_URL: 'redis://redis.internal:6379/limits' })).toMatch(
      /^REDIS_URL: the database after the host is a number \(redis:\/\/host:6379\/2\).* \(got "redis:\/\/redis.internal:6379\/limits"\)$/,
    );
    expect(messageOf({ REDIS_URL: 'redis://:pw@redis.internal:6379/0/x' })).toContain('REDIS_URL: the database after the host');
    for (const fine of ['redis://redis.internal', 'redis://redis.internal/', 'rediss://:pw@redis.internal:6380/15']) {
      expect(messageOf({ REDIS_URL: fine })).toBe('');
    }
  });

  it('mask a password with "/" in it, as generated passwords often have, that was not percent-encoded', () => {
    const redis = messageOf({ REDIS_URL: 'redis://:Zm9v/YmFy+cXV4@redis.internal:6379' });
    expect(redis).toContain('redis://:***@redis.internal:6379');
    expect(redis).not.toContain('YmFy');
    const pg = messageOf({ DATABASE_URL: 'postgres://llmo:s3/cr@t@db:5432/ledger' });
    expect(pg).toContain('postgres://llmo:***@db:5432/ledger');
    expect(pg).not.toContain('s3/cr');
  });
});

describe('addresses to bind (HOST, HTTP_HOST, METRICS_HOST)', () => {
  it.each(['0.0.0.0', '::', '::1', '127.0.0.1', 'localhost', 'gateway.internal', 'fd00::5'])('takes %s', (host) => {
    const config = loadConfig({ HOST: host, HTTP_HOST: host, METRICS_HOST: host, METRICS_PORT: '0', HTTP_PORT: '0', PORT: '0' });
    expect([config.host, config.http.host, config.metrics.host]).toEqual([host, host, host]);
  });

  // Each failed at the bind with "getaddrinfo ENOTFOUND <value>", exit code 1, naming no setting.
  it.each([
    ['HOST', '0.0.0.0:50051'],
    ['HOST', 'localhost:50051'],
    ['HOST', '[::1]'],
    ['HOST', 'http://0.0.0.0'],
    ['HTTP_HOST', 'localhost:8080'],
    ['HTTP_HOST', 'https://gateway.internal/'],
    ['METRICS_HOST', '127.0.0.1:9464'],
    ['METRICS_HOST', 'metrics host'],
  ])('refuses %s=%s at start-up, naming it', (name, value) => {
    expect(problemsOf({ [name]: value })).toEqual([
      `${name}: an IP address (IPv6 without brackets) or a host name, without a scheme or port (got ${JSON.stringify(value)})`,
    ]);
  });
});
