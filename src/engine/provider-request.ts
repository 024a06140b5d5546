import type { ProviderRequest } from '../providers/types.js';
import type { AttemptSpec } from './attempt.js';

/** What one upstream call of an attempt sends: the spec's request, on the attempt's own signal. */
export function providerRequest(
  spec: AttemptSpec,
  signal: AbortSignal,
  headers: Readonly<Record<string, string>> | undefined,
): ProviderRequest {
  return {
    upstreamModel: spec.model.upstreamId,
    messages: spec.messages,
    temperature: spec.temperature,
    maxTokens: spec.maxTokens,
    sampling: spec.sampling,
    ...(spec.tooling ? { tooling: spec.tooling } : {}),
    signal,
    headers,
  };
}
