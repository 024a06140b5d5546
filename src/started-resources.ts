/**
 * What start-up has opened (servers, connections, timers, threads), each registered as it is
 * opened and closed last first through one path: the app's stop() and a start-up that fails at a
 * later step both close through closeAll, so whichever step it failed at, nothing is left
 * listening, connected or waiting, and a stop closes what start-up opened and only that.
 * `C` is what each close is told: a stop's grace, or none after a failed start.
 */
export class StartedResources<C> {
  private readonly closers: ((closing: C) => unknown)[] = [];
  private closing: Promise<void> | undefined;

  /** Registers what closes something just opened. */
  add(close: (closing: C) => unknown): void {
    this.closers.push(close);
  }

  /**
   * Closes everything registered, last first, each once: a second call waits for the first. A
   * close that fails does not keep the later ones from running; the first failure is thrown once
   * they have all run.
   */
  closeAll(closing: C): Promise<void> {
    this.closing ??= this.closeInReverse(closing);
    return this.closing;
  }

  private async closeInReverse(closing: C): Promise<void> {
    let failed: { readonly err: unknown } | undefined;
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close(closing);
      } catch (err) {
        failed ??= { err };
      }
    }
    if (failed) throw failed.err;
  }
}
