import type { CatalogModel } from '../catalog/catalog.js';
import type { ChatMessage, Sampling } from '../domain/chat.js';
import type { Tooling } from '../domain/tools.js';
import type { ProviderRequest } from '../providers/types.js';

/** The request half of an attempt's spec (AttemptSpec has these fields). */
export interface RequestSpec {
  readonly model: CatalogModel;
  readonly messages: readonly ChatMessage[];
  readonly temperature: number;
  readonly maxTokens: number;
  readonly sampling?: Sampling | undefined;
  readonly tooling?: Tooling | undefined;
}

/** What one upstream call of an attempt sends: the spec's request, on the attempt's own signal. */
export function providerRequest(
  spec: RequestSpec,
  signal: AbortSignal,
  headers: Readonly<Record<string, string>> | undefined,
  hooks?: Pick<ProviderRequest, 'onProgress' | 'onPromptUsage' | 'onAnswerUsage'>,
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
    ...hooks,
  };
}
