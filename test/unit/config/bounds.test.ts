import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('setting bounds, at their edges', () => {
  // [setting, the largest or smallest value taken, the first value refused]
  const EDGES: readonly (readonly [string, string, string])[] = [
    ['PORT', '65535', '65536'],
    ['HTTP_PORT', '65535', '65536'],
    ['METRICS_PORT', '65535', '65536'],
    ['SIMULATOR_PORT', '65535', '65536'],
    ['DEFAULT_TEMPERATURE', '2', '2.01'],
    ['DEFAULT_TIMEOUT', '3600', '3600.5'],
    ['DEFAULT_TIMEOUT', '0.001', '0'],
    ['DEFAULT_TIMEOUT', '0.001', '-1'],
    // Less than half a millisecond rounded to a deadline of 0: every call without one failed at once.
    ['DEFAULT_TIMEOUT', '0.001', '0.0004'],
    ['DEFAULT_MAX_TOKENS', '1', '0'],
    ['SIMULATOR_LATENCY_SCALE', '100', '101'],
    ['RETRY_MAX_ATTEMPTS', '10', '11'],
    // Past about 100 years the cut-off day reads as a year of fewer than four digits, or none,
    // which sorts after every rolled file's name: every rolled log file would be deleted.
    ['LOG_RETENTION_DAYS', '36500', '36501'],
  ];

  it.each(EDGES)('%s takes %s and refuses %s, naming the setting', (name, taken, refused) => {
    expect(problemsOf({ [name]: taken, PORT: name === 'PORT' ? taken : '50051' })).toEqual([]);
    const problems = problemsOf({ [name]: refused });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: .*\\(got "${refused}"\\)$`));
  });
});

describe('settings reach the configuration', () => {
  it('METRICS_HOST, LOG_RETENTION_DAYS and CACHE_OFFLINE_FALLBACK', () => {
    const config = loadConfig({ HOST: '0.0.0.0', METRICS_HOST: '127.0.0.1', LOG_FILE: 'logs/app.log', LOG_RETENTION_DAYS: '3' });
    expect(config.metrics.host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '127.0.0.2' }).metrics.host).toBe('127.0.0.2');
    expect(config.logFile).toEqual({ path: 'logs/app.log', rotate: 'daily', retentionDays: 3 });
    expect(config.cache.offlineFallback).toBe(false);
    expect(loadConfig({ CACHE_OFFLINE_FALLBACK: 'on' }).cache.offlineFallback).toBe(true);
  });

  it('a blank value means the default, as an empty one does', () => {
    const config = loadConfig({ PORT: '  ', DEFAULT_TIMEOUT: ' ', DEFAULT_MODEL: '\t' });
    expect([config.port, config.defaults.timeoutMs, config.defaults.model]).toEqual([50051, 30_000, 'gpt-4o']);
  });

  it('TLS_CLIENT_CA_FILE without a certificate to serve is refused', () => {
    expect(problemsOf({ TLS_CLIENT_CA_FILE: '/etc/ca.pem' })).toEqual([
      'TLS_CLIENT_CA_FILE: mTLS needs TLS_CERT_FILE and TLS_KEY_FILE too',
    ]);
  });
});
