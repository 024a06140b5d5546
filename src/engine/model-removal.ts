import type { Catalog } from '../catalog/catalog.js';
import { endpointOf } from './attempt-errors.js';
import type { EventBus, GatewayEvent } from './events.js';
import type { BreakerRegistry } from './resilience/breakers.js';
import type { RetryBudgets } from './resilience/retry-budget.js';
import type { LiveModelStats } from './routing/live-stats.js';

/**
 * The one place a model's state goes when the catalog stops serving it (DeleteModel, a sync that
 * drops it, a move to another provider or upstream model): a gateway whose models come and go would otherwise keep
 * every breaker, retry budget, routing statistic, stats row and metric series forever, and hand a
 * model created again under an old name the old one's open breaker. Listeners on the event port
 * (stats, metrics) are told with `model_removed`.
 */
export function forgetRemovedModels(deps: {
  readonly catalog: Catalog;
  readonly embeddings: Pick<Catalog, 'find'> | undefined;
  readonly events: EventBus;
  readonly breakers: BreakerRegistry;
  readonly budgets: RetryBudgets;
  readonly live: LiveModelStats;
}): void {
  const { catalog, embeddings, events, breakers, budgets, live } = deps;
  const forgetEndpoint = (provider: string, id: string): void => {
    const endpoint = endpointOf({ name: provider }, { id });
    breakers.forget(endpoint);
    budgets.forget(endpoint);
  };
  // Models removed lately: only their events are looked up in the catalog, not every call's.
  const gone = new Set<string>();
  catalog.onRemoved((removed) => {
    for (const model of removed) {
      if (model.servedBy !== undefined) forgetEndpoint(model.servedBy, model.id);
      if (catalog.models.some((m) => m.id === model.id)) continue;
      live.forget(model.id);
      events.emit({ type: 'model_removed', model: model.id });
      gone.delete(model.id);
      gone.add(model.id);
      if (gone.size > RECENTLY_GONE) gone.delete(gone.values().next().value as string);
    }
  });
  const served = (id: string): boolean => catalog.find(id)?.id === id || embeddings?.find(id) !== undefined;
  // A call that outlived its model's removal was counted under it again as it ended: that goes too.
  events.subscribe((event) => {
    const model = modelNamed(event);
    if (model === undefined || !gone.has(model)) return;
    if (served(model)) {
      gone.delete(model);
      return;
    }
    if (event.type === 'attempt') forgetEndpoint(event.record.provider, model);
    events.emit({ type: 'model_removed', model });
  });
}

/** How many removed models are watched for calls that outlive them (the oldest forgotten first). */
const RECENTLY_GONE = 1_000;

/** The model an event counts something under (stats rows, metric series). */
function modelNamed(event: GatewayEvent): string | undefined {
  switch (event.type) {
    case 'attempt':
      return event.record.model;
    case 'call_finished':
      return event.call.model;
    case 'race_won':
    case 'first_token':
    case 'routed':
      return event.model;
    default:
      return undefined;
  }
}
