import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';

const ENDPOINT = 'http://otel-collector:4318';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('OTEL_SDK_DISABLED', () => {
  it('true (in any case) turns span and metric export off, whatever the endpoint says', () => {
    for (const value of ['true', 'TRUE', ' True ']) {
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: value }).tracing.otlpEndpoint).toBeUndefined();
    }
  });

  it('false, empty or unset leaves the endpoint as set', () => {
    for (const value of ['false', 'FALSE', '']) {
      expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: value }).tracing.otlpEndpoint).toBe(ENDPOINT);
    }
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT }).tracing.otlpEndpoint).toBe(ENDPOINT);
  });

  it('refuses a value it would have to guess at', () => {
    expect(problemsOf({ OTEL_SDK_DISABLED: 'yes' })[0]).toMatch(/^OTEL_SDK_DISABLED: /);
  });

  it('checks no exporter setting when nothing is exported', () => {
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).tracing
        .otlpEndpoint,
    ).toBeUndefined();
  });
});
