import type { CatalogModel } from '../catalog/catalog.js';
import type { AttemptRecord, ChatInput } from '../domain/chat.js';
import { estimateRequestTokens } from '../domain/chat.js';
import { routeNotAllowed } from '../domain/call-errors.js';
import { unlessAborted } from '../domain/abort.js';
import { OrchestratorError } from '../domain/errors.js';
import { maxTokensFor, type Plan } from './answer.js';
import { type CallContext, contextWith, type UpstreamObserver } from './context.js';
import { abortReason } from './attempt-errors.js';
import type { AccessControl, AccessTicket } from './ports.js';

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

  /** A planned call: permission for each model of the plan, limits and budgets for its estimate. */
  admit(ctx: CallContext, plan: Plan): Promise<Admitted> {
    const outputTokens = Math.max(...plan.models.map((m) => maxTokensFor(plan, m)), 0);
    return this.admitDemand(ctx, {
      models: plan.models.map((m) => m.id),
      estimatedTokens: estimateRequestTokens(plan) + outputTokens,
      outputTokens,
      prompt: plan,
    });
  }

  /**
   * A routed call (or a ranking), before anything is classified or tokenized: limits and budgets
   * for an estimate from the text's length and max_tokens (capped at the largest output limit of the
   * route's models, as the plan caps it). Which of the route's models the key may call is
   * the ranking's business (the others are excluded there); a route with none it may call is
   * refused here, as a model outside the key's list is, before its request is counted.
   */
  admitUnplanned(
    ctx: CallContext,
    input: ChatInput,
    defaultMaxTokens: number,
    routeModels?: () => readonly Pick<CatalogModel, 'id' | 'maxOutputTokens' | 'servedBy'>[],
  ): Promise<Admitted> {
    const { principal } = ctx;
    const access = this.access;
    // Listed once: the same list is checked here, prices a key's budget hold and caps max_tokens.
    const models = routeModels?.() ?? [];
    let candidates: readonly string[] | undefined;
    if (access && principal && routeModels) {
      candidates = models.map((m) => m.id);
      if (candidates.length > 0 && !candidates.some((m) => access.allows(principal, m))) {
        const refused = routeNotAllowed(principal.name, candidates);
        this.onRejected(refused.reason);
        return Promise.reject(refused);
      }
    }
    // The plan caps a routed call's max_tokens at each model's output limit: none writes more than the largest.
    const wanted = input.maxTokens ?? defaultMaxTokens;
    const outputTokens = models.length > 0 ? Math.min(wanted, Math.max(...models.map((m) => m.maxOutputTokens))) : wanted;
    return this.admitDemand(ctx, {
      models: [],
      // A model no provider serves is never the answer: its price would only hold budget for nothing.
      priceModels: candidates && models.filter((m) => m.servedBy !== undefined).map((m) => m.id),
      estimatedTokens: estimateRequestTokens(input) + outputTokens,
      outputTokens,
      prompt: input,
    });
  }

  async admitDemand(
    ctx: CallContext,
    demand: {
      models: readonly string[];
      estimatedTokens: number;
      outputTokens: number;
      prompt?: Pick<ChatInput, 'messages' | 'tooling'> | undefined;
      maxCostUsd?: number | undefined;
      priceModels?: readonly string[] | undefined;
    },
  ): Promise<Admitted> {
    const access = this.access;
    if (!access) return { ctx, release: () => undefined };
    const admitting = access.admit({ principal: ctx.principal, deadline: ctx.deadline, ...demand });
    let ticket: AccessTicket | undefined;
    try {
      // Limits and budgets may wait on Redis (its command timeout, per command): not past the call's
      // end. Without one nothing waits, and the race (a promise and an abort listener) is not run.
      ticket = access.waits === true ? await unlessAborted(admitting, ctx.signal, undefined) : await admitting;
    } catch (err) {
      if (err instanceof OrchestratorError) this.onRejected(err.reason);
      throw err;
    }
    if (!ticket) {
      // What the checks hand out later is given back at once: the budget hold, the token estimate.
      admitting.then(
        (late) => late.close(),
        () => undefined,
      );
      throw abortReason(ctx.signal);
    }
    let released = false;
    return {
      ctx: contextWith(ctx, { upstream: charging(ctx.upstream, (r) => ticket.record(r)) }),
      release: () => {
        if (released) return;
        released = true;
        ticket.close();
      },
    };
  }

  run<T>(ctx: CallContext, plan: Plan, run: (ctx: CallContext) => Promise<T>): Promise<T> {
    return this.within(this.admit(ctx, plan), run);
  }

  runUnplanned<T>(
    ctx: CallContext,
    input: ChatInput,
    defaultMaxTokens: number,
    routeModels: () => readonly Pick<CatalogModel, 'id' | 'maxOutputTokens' | 'servedBy'>[],
    run: (ctx: CallContext) => Promise<T>,
  ): Promise<T> {
    return this.within(this.admitUnplanned(ctx, input, defaultMaxTokens, routeModels), run);
  }

  /** One async layer for admission and the run (not an async `run` awaiting the admission, then this). */
  private async within<T>(admitting: Promise<Admitted>, run: (ctx: CallContext) => Promise<T>): Promise<T> {
    const admitted = await admitting;
    try {
      return await run(admitted.ctx);
    } finally {
      admitted.release();
    }
  }
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The call's upstream observer, also charging each ended request's usage to the ticket. */
function charging(inner: UpstreamObserver | undefined, charge: (record: AttemptRecord) => void): UpstreamObserver {
  return {
    requestStarted: (attempt) => {
      const request = inner?.requestStarted(attempt);
      return {
        headers: request?.headers ?? NO_HEADERS,
        ended: (record) => {
          charge(record);
          request?.ended(record);
        },
      };
    },
  };
}
