import type { LiveCatalog } from '../../catalog/live.js';
import { unlessAborted } from '../../domain/abort.js';
import { invalidArgument } from '../../domain/errors.js';
import { databaseUnreachable } from '../../domain/service-errors.js';
import type { CallContext, Engine } from '../../engine/index.js';
import { CatalogSource, type ModelServiceServer } from '../../gen/orchestrator/v1/models.js';
import { camelCase, decodeRuntimeModel, encodeChange, encodeModel, encodeReport, SYNC_SOURCE_OF } from '../catalog-encode.js';
import { unary, type CallDeps } from '../call.js';
import { encodeCircuit } from '../encode.js';
import { type AdminAccess, databaseAwayAs, requireAdmin, withDatabase } from '../admin.js';

/** Who may change the catalog: the admin RPCs' rule (server/admin.ts). */
export type CatalogAdminAccess = AdminAccess;

type AdminRpcs = Pick<ModelServiceServer, 'createModel' | 'updateModel' | 'deleteModel' | 'syncCatalog' | 'listModelHistory'>;

const MAX_HISTORY = 1000;

/** ModelService's catalog administration: runtime models, SyncCatalog (admin) and ListModelHistory. */
export function catalogAdmin(deps: CallDeps, engine: Engine, live: LiveCatalog, access: CatalogAdminAccess): AdminRpcs {
  const admin = <Req, Res>(handler: (request: Req, ctx: CallContext) => Promise<Res>) =>
    withDatabase<Req, Res>(deps, databaseUnreachable, (request, ctx, peer) => {
      requireAdmin(access, ctx, peer);
      return handler(request, ctx);
    });
  const info = (id: string) => {
    const model = live.catalog.find(id);
    if (!model) throw new Error(`catalog: ${id} missing after a change`);
    return encodeModel(model, encodeCircuit(engine.breakerState(model.id)));
  };
  return {
    createModel: admin(async (req) => {
      if (!req.model) throw invalidArgument([{ field: 'model', description: 'required' }]);
      const { input, violations } = decodeRuntimeModel(req.model);
      const model = await live.createModel(input, violations);
      return { model: info(model.id) };
    }),
    updateModel: admin(async (req) => {
      if (!req.model) throw invalidArgument([{ field: 'model', description: 'required' }]);
      const { input, violations } = decodeRuntimeModel(req.model);
      // The id names the model to change: without one there is nothing to look up.
      if (input.id === '') throw invalidArgument([{ field: 'model.id', description: 'required' }]);
      const model = await live.updateModel(input, violations);
      return { model: info(model.id) };
    }),
    deleteModel: admin(async (req) => {
      if (req.id.trim() === '') throw invalidArgument([{ field: 'id', description: 'required' }]);
      await live.deleteModel(req.id.trim());
      return {};
    }),
    syncCatalog: admin(async (req, ctx) => {
      const source = SYNC_SOURCE_OF[req.source];
      if (req.source !== CatalogSource.CATALOG_SOURCE_UNSPECIFIED && source === undefined) {
        throw invalidArgument([{ field: 'source', description: 'OPENROUTER, ARENA or HUGGINGFACE (unspecified: all)' }]);
      }
      const reports = await untilAborted(live.sync(source ? [source] : []), ctx.signal);
      return { reports: reports.map(encodeReport) };
    }),
    listModelHistory: unary(deps, async (req) => {
      if (req.limit < 0) throw invalidArgument([{ field: 'limit', description: 'must be 0 (default 100) or more' }]);
      const limit = Math.min(req.limit || 100, MAX_HISTORY);
      const model = req.model.trim() === '' ? undefined : (live.catalog.find(req.model)?.id ?? req.model.trim());
      const field = req.field.trim() === '' ? undefined : camelCase(req.field.trim());
      const changes = await live.history(model, field, limit).catch(databaseAwayAs(databaseUnreachable));
      return { changes: changes.map(encodeChange) };
    }),
  };
}

/**
 * The sync's reports, or the call's abort reason as soon as it fires (DRAINING when the grace
 * period is over, a cancel, the deadline). The run belongs to the scheduler, not to the call: it
 * goes on until the catalog sync stops, so the call does not wait for it, and an outcome that
 * comes after the call ended is dropped (unlessAborted) rather than left unhandled.
 */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  const result = await unlessAborted(work, signal, ABORTED);
  if (result === ABORTED) throw signal.reason;
  return result;
}

const ABORTED: unique symbol = Symbol('aborted');
