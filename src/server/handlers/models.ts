import type { Engine } from '../../engine/index.js';
import { encodeCircuit, encodeDecision } from '../encode.js';
import { RequestValidator, type ValidationLimits } from '../validate.js';
import type { ModelTier as DomainTier } from '../../catalog/models.js';
import { ModelTier, type ModelServiceServer } from '../../gen/orchestrator/v1/models.js';
import { unary, type CallDeps } from '../call.js';

const TIER: Readonly<Record<DomainTier, ModelTier>> = {
  small: ModelTier.MODEL_TIER_SMALL,
  medium: ModelTier.MODEL_TIER_MEDIUM,
  large: ModelTier.MODEL_TIER_LARGE,
};

export function modelService(deps: CallDeps, engine: Engine, limits: ValidationLimits): ModelServiceServer {
  const catalog = engine.catalog;
  return {
    listModels: unary(deps, async (req) => {
      const provider = req.provider.trim().toLowerCase();
      const models = catalog.models.filter(
        (m) =>
          (provider === '' || (m.servedBy ?? m.provider).toLowerCase() === provider) && (!req.availableOnly || m.servedBy !== undefined),
      );
      return {
        models: models.map((m) => ({
          id: m.id,
          provider: m.servedBy ?? m.provider,
          aliases: [...m.aliases],
          contextWindow: m.contextWindow,
          maxOutputTokens: m.maxOutputTokens,
          supportsStreaming: m.supportsStreaming,
          inputPricePerMillion: m.inputPricePerMillion,
          outputPricePerMillion: m.outputPricePerMillion,
          cachedInputPricePerMillion: m.cachedInputPricePerMillion,
          family: m.family,
          tier: TIER[m.tier],
          fallbacks: [...m.fallbacks],
          available: m.servedBy !== undefined,
          simulated: m.simulated,
          breakerState: encodeCircuit(engine.breakerState(m.id)),
          quality: m.quality,
        })),
      };
    }),

    rankModels: unary(deps, async (req, ctx) => {
      const { route, input } = new RequestValidator(limits).rankRequest(req);
      const decision = await engine.rank({ route, input, ctx });
      return { decision: encodeDecision(decision) };
    }),
  };
}
