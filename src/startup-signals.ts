/**
 * SIGHUP from the process's first moment: main.ts imports this module before it loads the rest of
 * the program. A SIGHUP (reload the config file's keys) that comes while the gateway starts is
 * kept for when it serves, instead of ending the process, which is what Node does with a SIGHUP
 * nobody listens to. The serving process (or the cluster primary) then says what a SIGHUP does.
 */
let reload: (() => void) | undefined;
let asked = false;
const onHangup = (): void => {
  if (reload) reload();
  else asked = true;
};
process.on('SIGHUP', onHangup);

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
