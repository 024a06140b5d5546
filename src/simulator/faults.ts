export const FAULT_KINDS = ['http_error', 'rate_limit', 'hang', 'cut', 'truncate', 'malformed', 'slow', 'delay', 'refusal'] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * One injected misbehaviour (`refusal`: the model declines, as OpenAI's structured output
 * refusals and Anthropic's `stop_reason: refusal` do, so a caller can see one without a key).
 * Fault timings (`delayMs`, `tokensPerSecond`) are wall-clock and NOT multiplied by
 * latencyScale, so they still bite in tests that run at scale 0.
 */
export interface FaultRule {
  readonly kind: FaultKind;
  /** Only requests for this model id (case-insensitive); absent = any model. */
  readonly model?: string;
  /** How many matching requests the rule applies to; absent = every one. */
  readonly times?: number;
  /** http_error: the status to answer (default 500). */
  readonly status?: number;
  /** http_error, rate_limit: the Retry-After header (seconds or an HTTP date). */
  readonly retryAfter?: string;
  /** cut, truncate, malformed: how many token chunks go out before the fault. */
  readonly afterTokens?: number;
  /** Any kind: extra wait before the first byte ('delay' defaults to 1000). */
  readonly delayMs?: number;
  /** slow: the drip rate (default 2 tokens per second). */
  readonly tokensPerSecond?: number;
}

interface ActiveRule {
  readonly rule: FaultRule;
  readonly model: string | undefined;
  remaining: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFaultKind(value: unknown): value is FaultKind {
  return typeof value === 'string' && (FAULT_KINDS as readonly string[]).includes(value);
}

function checkNumber(source: Record<string, unknown>, key: string, check: (n: number) => boolean): number | undefined {
  const value = source[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new TypeError(`fault rule: invalid ${key}: ${JSON.stringify(value)}`);
  }
  return value;
}

function checkString(source: Record<string, unknown>, key: string): string | undefined {
  const value = source[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`fault rule: invalid ${key}: ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Validates a rule from JSON (POST /_sim/faults) or from code; throws TypeError with the
 * offending field so a mistyped test fails loudly instead of injecting nothing.
 */
export function parseFaultRule(input: unknown): FaultRule {
  if (!isRecord(input)) throw new TypeError('fault rule: expected a JSON object');
  const kind = input['kind'];
  if (!isFaultKind(kind)) {
    throw new TypeError(`fault rule: kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const nonNegative = (n: number): boolean => n >= 0;
  const rule: FaultRule = {
    kind,
    model: checkString(input, 'model'),
    times: checkNumber(input, 'times', (n) => Number.isInteger(n) && n >= 1),
    status: checkNumber(input, 'status', (n) => Number.isInteger(n) && n >= 100 && n <= 599),
    retryAfter: checkString(input, 'retryAfter'),
    afterTokens: checkNumber(input, 'afterTokens', (n) => Number.isInteger(n) && n >= 0),
    delayMs: checkNumber(input, 'delayMs', nonNegative),
    tokensPerSecond: checkNumber(input, 'tokensPerSecond', (n) => n > 0),
  };
  // Drop absent keys so records and GET output stay tidy.
  return Object.freeze(Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== undefined)) as FaultRule);
}

/** The active fault rules, in injection order; the first matching rule wins. */
export class FaultBook {
  #rules: ActiveRule[] = [];

  add(rule: FaultRule): void {
    const parsed = parseFaultRule(rule);
    this.#rules.push({
      rule: parsed,
      model: parsed.model?.toLowerCase(),
      remaining: parsed.times ?? Number.POSITIVE_INFINITY,
    });
  }

  clear(): void {
    this.#rules = [];
  }

  /**
   * Picks the rule for one request and uses up one of its `times`. A rule of a kind in `inapplicable`
   * is passed over, not used up: it stays for the requests it can change.
   */
  take(model: string, inapplicable: readonly FaultKind[] = []): FaultRule | undefined {
    if (this.#rules.length === 0) return undefined;
    const wanted = model.toLowerCase();
    const index = this.#rules.findIndex(
      (active) => (active.model === undefined || active.model === wanted) && !inapplicable.includes(active.rule.kind),
    );
    const active = this.#rules[index];
    if (active === undefined) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) this.#rules.splice(index, 1);
    return active.rule;
  }
}
