import type { LiveCatalog } from '../../catalog/live.js';
import type { Engine } from '../../engine/index.js';
import { encodeCircuit, encodeDecision } from '../encode.js';
import { RequestValidator, type ValidationLimits } from '../validate.js';
import type { ModelServiceServer } from '../../gen/orchestrator/v1/models.js';
import { unary, type CallDeps } from '../call.js';
import { encodeModel } from '../catalog-encode.js';
import { catalogAdmin, type CatalogAdminAccess } from './catalog-admin.js';
import { noRuntimeCatalog } from '../../domain/catalog-errors.js';

export interface ModelAdmin {
  readonly live: LiveCatalog | undefined;
  readonly access: CatalogAdminAccess;
}

export function modelService(deps: CallDeps, engine: Engine, limits: ValidationLimits, admin?: ModelAdmin): ModelServiceServer {
  return {
    listModels: unary(deps, async (req, ctx) => {
      const provider = req.provider.trim().toLowerCase();
      const models = engine
        .listedModels(ctx.principal)
        .filter(
          (m) =>
            (provider === '' || (m.servedBy ?? m.provider).toLowerCase() === provider) && (!req.availableOnly || m.servedBy !== undefined),
        );
      return { models: models.map((m) => encodeModel(m, encodeCircuit(engine.breakerState(m.id)))) };
    }),

    rankModels: unary(deps, async (req, ctx) => {
      const { route, input } = new RequestValidator(limits).rankRequest(req);
      const decision = await engine.rank({ route, input, ctx });
      return { decision: encodeDecision(decision) };
    }),

    ...(admin?.live ? catalogAdmin(deps, engine, admin.live, admin.access) : notServed(deps)),
  };
}

/** A server built without a live catalog (unit tests of other services) answers the catalog RPCs plainly. */
function notServed(
  deps: CallDeps,
): Pick<ModelServiceServer, 'createModel' | 'updateModel' | 'deleteModel' | 'syncCatalog' | 'listModelHistory'> {
  const refuse = unary(deps, async () => {
    throw noRuntimeCatalog();
  });
  return { createModel: refuse, updateModel: refuse, deleteModel: refuse, syncCatalog: refuse, listModelHistory: refuse };
}
