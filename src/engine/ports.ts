import type { AttemptRecord, ChatInput } from '../domain/chat.js';
import type { Principal } from '../domain/principal.js';
import type { Answer } from './answer.js';
import type { Provider } from '../providers/types.js';

export interface ProviderLookup {
  get(name: string): Provider | undefined;
}

/** What a call may do and what it used: limits, budgets and model permissions (src/access). */
export interface AccessControl {
  /** Throws PERMISSION_DENIED or RESOURCE_EXHAUSTED; the ticket then accounts for the call. */
  admit(request: {
    readonly principal: Principal | undefined;
    readonly models: readonly string[];
    /** Prompt and answer: what the tokens-per-minute limits count. */
    readonly estimatedTokens: number;
    /** Of `estimatedTokens`, the answer's part (max_tokens): a budget hold prices it at the output price, the rest at the input price. */
    readonly outputTokens: number;
    /**
     * The request, whose prompt cache markers may have its prompt written to the cache at the
     * cache write price: read by a budget hold only, so a call whose key has no budget never
     * looks for them.
     */
    readonly prompt?: Pick<ChatInput, 'messages' | 'tooling'> | undefined;
    /** The most the call can cost, when the caller knows it better than the chat prices do (embeddings). */
    readonly maxCostUsd?: number | undefined;
    /**
     * A routed call's models, before the ranking picks among them: not checked here (the ranking
     * leaves out what the key may not call), but the dearest the key may call sizes the budget's
     * hold, so a burst of routed calls stops at the budget as any other does.
     */
    readonly priceModels?: readonly string[] | undefined;
    /** Epoch ms when the call's deadline runs out: a budget hold must outlive the call. */
    readonly deadline?: number | undefined;
  }): Promise<AccessTicket>;
  /** Whether the principal may call this model at all. */
  allows(principal: Principal | undefined, modelId: string): boolean;
  /**
   * `admit` may wait on a shared store (Redis: its command timeout, per command), so a call races
   * it against its own end; otherwise it answers at once and is simply awaited.
   */
  readonly waits?: boolean;
}

export interface AccessTicket {
  /** Every upstream call of the admitted call, as it finishes (partial usage included). */
  record(record: AttemptRecord): void;
  /** The call is over: settle the difference between estimated and actual tokens. */
  close(): void;
}

export interface CachedAnswer {
  readonly answer: Answer;
  /** Epoch ms the answer was stored. */
  readonly storedAt: number;
  /** Past its TTL: only served as an offline fallback when the caller allows stale answers. */
  readonly stale: boolean;
}

/** Exact-match answers for deterministic requests (src/cache/response-cache.ts). */
export interface AnswerCache {
  /** A miss once `signal` aborts: a lookup is never worth more than the call waiting on it. */
  get(key: string, signal: AbortSignal): Promise<CachedAnswer | undefined>;
  /** Resolves once the entry is handed over, not when a shared store confirms it: the answer does not wait. */
  set(key: string, answer: Answer): Promise<void>;
}
