import type { AttemptRecord } from '../domain/chat.js';
import { estimatePromptTokens } from '../domain/chat.js';
import { OrchestratorError } from '../domain/errors.js';
import { maxTokensFor, type Plan } from './answer.js';
import type { CallContext } from './context.js';
import type { AccessControl } from './ports.js';

/** An admitted call: its context charges usage to the ticket; `release` settles it, once. */
export interface Admitted {
  readonly ctx: CallContext;
  release(): void;
}

/**
 * Access control around a call: permissions, budgets and limits before it; actual usage
 * charged as each upstream call finishes; the token estimate settled when it ends.
 */
export class Admission {
  constructor(
    private readonly access: AccessControl | undefined,
    private readonly onRejected: (reason: string) => void,
  ) {}

  async admit(ctx: CallContext, plan: Plan): Promise<Admitted> {
    const access = this.access;
    if (!access) return { ctx, release: () => undefined };
    const promptTokens = estimatePromptTokens(plan.messages);
    const outputTokens = Math.max(...plan.models.map((m) => maxTokensFor(plan, m)), 0);
    let ticket;
    try {
      ticket = await access.admit({ principal: ctx.principal, models: plan.models.map((m) => m.id), estimatedTokens: promptTokens + outputTokens });
    } catch (err) {
      if (err instanceof OrchestratorError) this.onRejected(err.reason);
      throw err;
    }
    let released = false;
    return {
      ctx: { ...ctx, onUsage: chain(ctx.onUsage, (r) => ticket.record(r)) },
      release: () => {
        if (released) return;
        released = true;
        ticket.close();
      },
    };
  }

  async run<T>(ctx: CallContext, plan: Plan, run: (ctx: CallContext) => Promise<T>): Promise<T> {
    const admitted = await this.admit(ctx, plan);
    try {
      return await run(admitted.ctx);
    } finally {
      admitted.release();
    }
  }
}

function chain(first: ((r: AttemptRecord) => void) | undefined, second: (r: AttemptRecord) => void): (r: AttemptRecord) => void {
  return first ? (r) => (first(r), second(r)) : second;
}
