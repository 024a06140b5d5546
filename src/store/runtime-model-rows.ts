import type { Kysely, Selectable } from 'kysely';
import type { RuntimeModel } from '../catalog/layers.js';
import { extend } from '../domain/extend.js';
import type { CatalogSchema } from './catalog-schema.js';

// Runtime models as the catalog tables keep them (catalog-store.ts writes and reads them).

type StoredRuntime = Omit<RuntimeModel, 'id' | 'createdAt' | 'updatedAt'>;

/** Same key on every replica: one runtime model is written at a time, its names checked against the others'. */
export const RUNTIME_MODELS_LOCK_KEY = 0x4c4c4d4d; // "LLMM"

export function runtimeModelOf(r: Selectable<CatalogSchema['catalog_runtime_models']>): RuntimeModel {
  return extend(JSON.parse(r.definition) as StoredRuntime, {
    id: r.id,
    createdAt: new Date(Number(r.created_at)),
    updatedAt: new Date(Number(r.updated_at)),
  });
}

/**
 * When a change of `modelId` goes into its history: `at`, or just after the model's last change.
 * History is read in time order, each definition against the one before: a change stamped in
 * the same millisecond as the one before it (CreateModel then UpdateModel), or stamped earlier by
 * a replica whose clock is behind, would otherwise be read before the change it follows. Asked
 * after the model's own row is written, whose lock orders two replicas' changes of it.
 */
export async function historyTime(tx: Kysely<CatalogSchema>, modelId: string, at: number): Promise<number> {
  const last = await tx
    .selectFrom('catalog_runtime_history')
    .select((eb) => eb.fn.max('at').as('at'))
    .where('model_id', '=', modelId)
    .executeTakeFirst();
  return last?.at === null || last?.at === undefined ? at : Math.max(at, Number(last.at) + 1);
}
