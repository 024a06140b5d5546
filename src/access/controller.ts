import type { AttemptRecord } from '../domain/chat.js';
import { OrchestratorError, Reason } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import type { AccessControl, AccessTicket } from '../engine/index.js';
import type { Budgets } from './budgets.js';
import { periodsOf } from './budgets.js';
import type { ApiKeyStore } from './keys.js';
import type { RateLimits } from './limits.js';
import { allowsModel } from './patterns.js';

/**
 * Admission for every call: the key's model permissions, its budgets, then the request and
 * token rate limits. The ticket then charges actual usage as each upstream call finishes, so
 * streamed, cut and cancelled calls are paid for too.
 */
export class AccessController implements AccessControl {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly limits: RateLimits,
    private readonly budgets: Budgets,
  ) {}

  allows(principal: Principal | undefined, modelId: string): boolean {
    if (!principal) return true;
    const entry = this.keys.byKeyName(principal.name);
    return entry ? allowsModel(entry.patterns, modelId) : false;
  }

  async admit(request: { principal: Principal | undefined; models: readonly string[]; estimatedTokens: number }): Promise<AccessTicket> {
    const { principal, models, estimatedTokens } = request;
    const denied = models.filter((m) => !this.allows(principal, m));
    if (principal && denied.length > 0) {
      throw new OrchestratorError({
        kind: 'permission_denied',
        reason: Reason.MODEL_NOT_ALLOWED,
        message: `API key "${principal.name}" may not call ${denied.join(', ')}`,
        metadata: { key: principal.name, models: denied.join(',') },
      });
    }
    if (principal) await this.checkBudgets(principal.name);
    await this.limits.admit(principal?.name, estimatedTokens);
    let actualTokens = 0;
    return {
      record: (record: AttemptRecord) => {
        actualTokens += record.usage.totalTokens;
        if (principal) void this.budgets.add(principal.name, record.costUsd);
      },
      close: () => {
        void this.limits.settleTokens(principal?.name, actualTokens - Math.max(1, estimatedTokens));
      },
    };
  }

  private async checkBudgets(keyName: string): Promise<void> {
    const budgets = this.keys.byKeyName(keyName)?.spec.budgets;
    if (!budgets || (budgets.usdPerDay === undefined && budgets.usdPerMonth === undefined)) return;
    const now = new Date();
    const spent = await this.budgets.spent(keyName, now);
    const periods = periodsOf(now);
    // The monthly budget first: when both are spent, the daily reset does not help.
    const over =
      budgets.usdPerMonth !== undefined && spent.month >= budgets.usdPerMonth
        ? { what: `budget usd_per_month ${budgets.usdPerMonth}`, spent: spent.month, retryAfterMs: periods.msToNextMonth }
        : budgets.usdPerDay !== undefined && spent.day >= budgets.usdPerDay
          ? { what: `budget usd_per_day ${budgets.usdPerDay}`, spent: spent.day, retryAfterMs: periods.msToNextDay }
          : undefined;
    if (!over) return;
    throw new OrchestratorError({
      kind: 'resource_exhausted',
      reason: Reason.BUDGET_EXHAUSTED,
      message: `${over.what} reached for key "${keyName}" (spent $${over.spent.toFixed(6)})`,
      retryAfterMs: over.retryAfterMs,
      metadata: { quota_subject: `key:${keyName}`, quota_description: over.what, spent_usd: String(over.spent) },
    });
  }
}
