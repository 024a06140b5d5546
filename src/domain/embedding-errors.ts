import { OrchestratorError, Reason } from './errors.js';

/** Embed asked of a model whose provider has no embeddings API (our configuration, not the caller's request). */
export function noEmbeddingsApi(provider: string, model: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.INVALID_REQUEST,
    message: `provider ${provider} (serving ${model}) has no embeddings API`,
    metadata: { provider, model },
  });
}
