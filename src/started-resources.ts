/**
 * What start-up has opened so far (servers, connections, timers, threads), closed in reverse
 * order when a later step fails: a start that fails part way leaves nothing listening, connected
 * or waiting, whichever step it failed at. Once start-up succeeds the app's `stop()` owns them.
 */
export class StartedResources {
  private readonly closers: (() => unknown)[] = [];

  /** Registers what closes something just opened. */
  add(close: () => unknown): void {
    this.closers.push(close);
  }

  /** Closes everything registered, last first; a close that fails does not keep the others open. */
  async closeAll(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // Start-up's own error is the one to report.
      }
    }
  }
}
