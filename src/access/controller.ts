import type { AttemptRecord } from '../domain/chat.js';
import { apiKeyGone, budgetExhausted as exhausted, modelNotAllowed, type OrchestratorError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { dearestPromptPrice, longestMarker } from '../domain/prompt-cache.js';
import type { AccessControl, AccessTicket } from '../engine/index.js';
import type { Budgets } from './budgets.js';
import { periodsOf } from './budgets.js';
import type { Reservation } from './holds.js';
import type { ApiKeyStore } from './keys.js';
import type { RateLimits } from './limits.js';
import { allowsModel } from './patterns.js';

/** Prices per million tokens, by model id (the catalog). */
export interface PriceList {
  find(modelId: string):
    | {
        readonly inputPricePerMillion: number;
        readonly outputPricePerMillion: number;
        readonly cacheWritePricePerMillion?: number | undefined;
      }
    | undefined;
}

/**
 * How long a call's budget hold lives if it is never released (its replica died mid-call):
 * longer than calls run, short enough that a lost hold does not block a key for long. A call
 * whose deadline is further away holds until a minute past it.
 */
const HOLD_MS = 15 * 60_000;
const HOLD_PAST_DEADLINE_MS = 60_000;
/** A caller may set any deadline: a lost hold still frees its key's budget within a day. */
const HOLD_MAX_MS = 24 * 60 * 60_000;

function holdMsFor(deadline: number | undefined, now: number): number {
  if (deadline === undefined || !Number.isFinite(deadline)) return HOLD_MS;
  return Math.min(HOLD_MAX_MS, Math.max(HOLD_MS, deadline - now + HOLD_PAST_DEADLINE_MS));
}

/**
 * Admission for every call: the key's model permissions, its budgets, then the request and
 * token rate limits. The ticket then charges actual usage as each upstream call finishes, so
 * streamed, cut and cancelled calls are paid for too.
 *
 * Budgets are checked against spend plus what the key's calls in flight hold: each admitted
 * call holds its estimated maximum cost (its prompt at a model's input price plus max_tokens at
 * its output price, for the dearest of its models) until it ends and its actual cost is charged.
 * A burst of parallel calls then stops once the holds cover what is left, instead of all passing
 * a check made before any spent.
 */
export class AccessController implements AccessControl {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly limits: RateLimits,
    private readonly budgets: Budgets,
    private readonly prices?: PriceList,
  ) {}

  /** Limits and budgets in Redis: `admit` may wait on its commands. */
  get waits(): boolean {
    return this.limits.shared;
  }

  allows(principal: Principal | undefined, modelId: string): boolean {
    if (!principal) return true;
    const entry = this.keys.byKeyName(principal.name);
    // A key gone since its call was let in is refused by `admit` as gone, not here as lacking the model.
    return entry ? allowsModel(entry.patterns, modelId) : true;
  }

  async admit(request: Parameters<AccessControl['admit']>[0]): Promise<AccessTicket> {
    const { principal, models, estimatedTokens } = request;
    if (principal && !this.keys.byKeyName(principal.name)) throw apiKeyGone(principal.name);
    const denied = models.filter((m) => !this.allows(principal, m));
    if (principal && denied.length > 0) {
      throw modelNotAllowed(principal.name, denied);
    }
    const hold = principal ? await this.holdBudget(principal, request) : undefined;
    try {
      const taking = this.limits.admit(principal?.name, estimatedTokens);
      if (taking) await taking;
    } catch (err) {
      await hold?.();
      throw err;
    }
    const admittedAt = Date.now();
    let actualTokens = 0;
    const charges: Promise<void>[] = [];
    return {
      record: (record: AttemptRecord) => {
        actualTokens += record.usage.totalTokens;
        if (principal) charges.push(this.budgets.add(principal.name, record.costUsd));
      },
      close: () => {
        void this.limits.settleTokens(principal?.name, actualTokens - Math.max(1, estimatedTokens), admittedAt);
        // Released once the actual cost is written, so no check in between sees neither.
        if (hold) void Promise.allSettled(charges).then(hold);
      },
    };
  }

  private callable(principal: Principal, models: readonly string[] | undefined): readonly string[] {
    return (models ?? []).filter((m) => this.allows(principal, m));
  }

  /**
   * The most one answer can cost: the prompt at a model's input price (its cache write price when
   * the request marks a prefix for the provider's cache) plus max_tokens at its output price, for
   * the dearest such sum among the models the call may use. Pricing the prompt at the output price
   * too would hold several times what a call can spend, and refuse a key the budget it has left.
   */
  private maxCostUsd(models: readonly string[], demand: Parameters<AccessControl['admit']>[0]): number {
    const output = Math.max(0, demand.outputTokens);
    const input = Math.max(0, Math.max(1, demand.estimatedTokens) - output);
    const cacheWrite = demand.prompt && longestMarker(demand.prompt.messages, demand.prompt.tooling);
    let dollars = 0;
    for (const id of models) {
      const price = this.prices?.find(id);
      if (price) dollars = Math.max(dollars, input * dearestPromptPrice(price, cacheWrite) + output * price.outputPricePerMillion);
    }
    return dollars / 1e6;
  }

  /**
   * Refuses a key whose budget is spent (holds of calls in flight included); else holds the
   * call's most it may cost, priced only for a key that has a budget.
   */
  private async holdBudget(
    principal: Principal,
    demand: Parameters<AccessControl['admit']>[0],
  ): Promise<(() => Promise<void>) | undefined> {
    const keyName = principal.name;
    const budgets = this.keys.byKeyName(keyName)?.spec.budgets;
    if (!budgets || (budgets.usdPerDay === undefined && budgets.usdPerMonth === undefined)) return undefined;
    const { models } = demand;
    const usd = demand.maxCostUsd ?? this.maxCostUsd(models.length > 0 ? models : this.callable(principal, demand.priceModels), demand);
    const now = new Date();
    const reservation = await this.budgets.reserve(keyName, budgets, usd, holdMsFor(demand.deadline, now.getTime()), now);
    if (reservation.admitted) return reservation.release;
    throw budgetExhausted(keyName, budgets, reservation, now);
  }
}

function budgetExhausted(
  keyName: string,
  budgets: { readonly usdPerDay: number | undefined; readonly usdPerMonth: number | undefined },
  refused: Extract<Reservation, { admitted: false }>,
  now: Date,
): OrchestratorError {
  const periods = periodsOf(now);
  const spentOut = (limit: number | undefined, spent: number): boolean => limit !== undefined && spent >= limit;
  // The budget actually spent names the wait: the month first (when both are, the daily reset does
  // not help), then the day, even when the check that refused was the other's holds.
  const period = spentOut(budgets.usdPerMonth, refused.spend.month)
    ? 'month'
    : spentOut(budgets.usdPerDay, refused.spend.day)
      ? 'day'
      : refused.over;
  const over =
    period === 'month'
      ? { what: `budget usd_per_month ${budgets.usdPerMonth}`, spent: refused.spend.month, retryAfterMs: periods.msToNextMonth }
      : { what: `budget usd_per_day ${budgets.usdPerDay}`, spent: refused.spend.day, retryAfterMs: periods.msToNextDay };
  const limit = period === 'month' ? budgets.usdPerMonth : budgets.usdPerDay;
  // Refused only for what calls in flight hold: they may end well below it, so try again soon.
  const onlyHeld = !spentOut(limit, over.spent);
  return exhausted({
    keyName,
    what: over.what,
    spentUsd: over.spent,
    heldUsd: refused.heldUsd,
    retryAfterMs: onlyHeld ? 1_000 : over.retryAfterMs,
  });
}
