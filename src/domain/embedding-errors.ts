import { invalidArgument, OrchestratorError, Reason } from './errors.js';

/** Embed asked of a model whose provider has no embeddings API (our configuration, not the caller's request). */
export function noEmbeddingsApi(provider: string, model: string): OrchestratorError {
  return new OrchestratorError({
    kind: 'failed_precondition',
    reason: Reason.INVALID_REQUEST,
    message: `provider ${provider} (serving ${model}) has no embeddings API`,
    metadata: { provider, model },
  });
}

/** A chat call naming an embedding model: the caller's mistake, said as such, not an unknown model. */
export function embeddingModelAsChat(model: string, field: string): OrchestratorError {
  return invalidArgument([
    { field, description: `${model} is an embedding model, not a chat model: call EmbeddingService.Embed (POST /v1/embeddings)` },
  ]);
}
