import type { Engine } from '../../engine/index.js';
import type { EmbeddingServiceServer } from '../../gen/orchestrator/v1/embedding.js';
import { unary, type CallDeps } from '../call.js';
import { encodeAttempt, encodeUsage } from '../encode.js';
import { round3 } from '../../domain/latency.js';

/** EmbeddingService: the engine checks the request (field paths of EmbedRequest) and embeds. */
export function embeddingService(deps: CallDeps, engine: Engine): EmbeddingServiceServer {
  return {
    embed: unary(deps, async (req, ctx) => {
      // With both set, the texts are checked and the clash is listed with their problems.
      const both = req.tokenInputs.length > 0 && req.inputs.length > 0;
      const known = both ? [{ field: 'token_inputs', description: 'set inputs or token_inputs, not both' }] : [];
      const inputs = req.inputs.length > 0 ? req.inputs : req.tokenInputs.map((t) => t.ids);
      const answer = await engine.embed({ ctx, model: req.model, inputs, dimensions: req.dimensions, known });
      return {
        embeddings: answer.vectors.map((values, index) => ({ index, values: [...values] })),
        model: answer.model,
        provider: answer.provider,
        usage: encodeUsage(answer.usage),
        costUsd: answer.costUsd,
        latencyMs: round3(answer.latencyMs),
        requestId: ctx.requestId,
        attempts: answer.attempts.map(encodeAttempt),
        cache: answer.cache ? { hit: answer.cache.hit, stale: false, ageSeconds: round3(answer.cache.ageMs / 1000) } : undefined,
        simulated: answer.simulated,
        dimensions: answer.dimensions,
      };
    }),
  };
}
