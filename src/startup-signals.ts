/**
 * Signals from the process's first moment: main.ts imports this module before it loads the rest of
 * the program. A SIGHUP (reload the config file's keys) that comes while the gateway starts is
 * kept for when it serves, instead of ending the process, which is what Node does with a SIGHUP
 * nobody listens to. A SIGTERM or SIGINT then ends the process at once, as Node's default would;
 * it is listened for all the same because a process that is PID 1 (the container image) gets no
 * signal it does not listen for: one sent while it started was lost, and it served on until
 * SIGKILL. The serving process (or the cluster primary) then says what each signal does.
 */
let reload: (() => void) | undefined;
let asked = false;
const onHangup = (): void => {
  if (reload) reload();
  else asked = true;
};
process.on('SIGHUP', onHangup);

const exitWhileStarting = (signal: NodeJS.Signals): void => {
  process.stderr.write(`${signal} while starting: exiting\n`);
  process.exit(0);
};
process.on('SIGTERM', exitWhileStarting);
process.on('SIGINT', exitWhileStarting);

export const hangups = {
  /** From now on a SIGHUP calls `handler`; one that came before calls it at once. */
  handleWith(handler: () => void): void {
    reload = handler;
    if (asked) {
      asked = false;
      handler();
    }
  },
};

export const stops = {
  /** From now on SIGTERM and SIGINT call `handler` (a drain) instead of ending the process at once. */
  handleWith(handler: (signal: NodeJS.Signals) => void): void {
    // Added before the start-up listeners go: a signal's last listener removed closes Node's watch
    // on it, and a signal that came while start-up's last stretch ran, not yet delivered, is lost.
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
    process.off('SIGTERM', exitWhileStarting);
    process.off('SIGINT', exitWhileStarting);
  },
};

/**
 * A SIGINT this long after the signal that began a drain is Ctrl-C pressed again. One sooner is the
 * same Ctrl-C come twice: the terminal sends it to every process of its group, and `npm start`
 * forwards the one it got to the gateway as well.
 */
const PRESSED_AGAIN_AFTER_MS = 1_000;

/** Whether `signal`, during a drain begun at `drainSince` (epoch ms), asks to exit without it (Ctrl-C again). */
export function endsDrain(signal: NodeJS.Signals, drainSince: number): boolean {
  return signal === 'SIGINT' && Date.now() - drainSince >= PRESSED_AGAIN_AFTER_MS;
}

/** 128 + SIGINT's number: what a shell reports for a process that Ctrl-C ended. */
const INTERRUPTED_EXIT_CODE = 130;

/** A SIGINT during a drain: whatever is still running is cut, and the process ends now. */
export function exitWithoutDrain(): never {
  process.stderr.write('SIGINT while draining: exiting without waiting for the calls in flight\n');
  process.exit(INTERRUPTED_EXIT_CODE);
}
