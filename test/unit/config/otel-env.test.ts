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
describe('OTEL_RESOURCE_ATTRIBUTES', () => {
  it('adds its attributes to the resource, percent-decoded', () => {
    const { tracing } = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT,
      OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=ai, k8s.pod.name=gw-7f9 ,team=search%2Cranking,note=a%3Db',
    });
    expect(tracing.resourceAttributes).toEqual({
      'service.namespace': 'ai',
      'k8s.pod.name': 'gw-7f9',
      team: 'search,ranking',
      note: 'a=b',
    });
  });

  it('names the service when OTEL_SERVICE_NAME does not; OTEL_SERVICE_NAME wins over it', () => {
    const attributes = { OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes' };
    expect(loadConfig(attributes).tracing.serviceName).toBe('from-attributes');
    expect(loadConfig({ ...attributes, OTEL_SERVICE_NAME: 'from-name' }).tracing.serviceName).toBe('from-name');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT }).tracing.serviceName).toBe('llm-orchestrator');
  });

  it('refuses a malformed list when spans are exported, naming the entry; ignores it when they are not', () => {
    for (const bad of ['team', 'a=b=c', '=x', 'k=%zz']) {
      const problems = problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: `ok=1,${bad}` });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^OTEL_RESOURCE_ATTRIBUTES: /);
      expect(problems[0]).toContain(JSON.stringify(bad));
      expect(loadConfig({ OTEL_RESOURCE_ATTRIBUTES: `ok=1,${bad}` }).tracing.otlpEndpoint).toBeUndefined();
    }
  });
});
