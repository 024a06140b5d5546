/**
 * Retry throttling as in gRFC A6: a token bucket per model endpoint (as the breakers are, so a
 * failing model cannot empty the bucket the provider's healthy models retry from) that starts full; every
 * retryable failure takes one token, every success gives back `tokenRatio`; retries are allowed
 * only while more than half the tokens remain. When an upstream is down, retries stop after a
 * few failures instead of multiplying its load by the attempt count.
 */
export class RetryBudget {
  private tokens: number;

  constructor(
    private readonly maxTokens: number,
    private readonly tokenRatio: number,
  ) {
    this.tokens = maxTokens;
  }

  onSuccess(): void {
    this.tokens = Math.min(this.maxTokens, this.tokens + this.tokenRatio);
  }

  onFailure(): void {
    this.tokens = Math.max(0, this.tokens - 1);
  }

  canRetry(): boolean {
    return this.tokens > this.maxTokens / 2;
  }
}

export class RetryBudgets {
  private readonly budgets = new Map<string, RetryBudget>();

  constructor(private readonly options: { maxTokens: number; tokenRatio: number }) {}

  for(upstream: string): RetryBudget {
    let budget = this.budgets.get(upstream);
    if (!budget) {
      budget = new RetryBudget(this.options.maxTokens, this.options.tokenRatio);
      this.budgets.set(upstream, budget);
    }
    return budget;
  }

  forget(upstream: string): void {
    this.budgets.delete(upstream);
  }
}
