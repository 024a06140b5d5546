/** Which listener failed to bind, and the settings that move it. */
export interface Listener {
  /** How the start-up error names it: `gRPC port`, `HTTP port`, ... */
  readonly what: string;
  readonly host: string;
  readonly port: number;
  readonly portSetting: string;
  readonly hostSetting: string;
  /** Another way out when the port is in use, e.g. `METRICS=off`. */
  readonly orElse?: string | undefined;
}

/**
 * grpc-js reports a failed bind as a message ("... [listen EADDRINUSE: ...]") without a code, and a
 * host name that does not resolve as "Name resolution failed for target ..." (UNRESOLVED).
 */
function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const message = err instanceof Error ? err.message : String(err);
  if (/^Name resolution failed for target /.test(message)) return UNRESOLVED;
  return /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(message)?.[1];
}

const UNRESOLVED = 'unresolved';

/**
 * A bind failure as a start-up error naming the setting to change: the bare EADDRINUSE names
 * none, and a second `npm start` next to a running one is where a newcomer meets it.
 */
export function listenError(err: unknown, listener: Listener): Error {
  const where = `${listener.host}:${listener.port}`;
  const cause = { cause: err };
  const errno = errnoOf(err);
  switch (errno) {
    case 'EADDRINUSE': {
      const orElse = listener.orElse ? ` or ${listener.orElse}` : '';
      const advice = `set ${listener.portSetting} to a free port (0 picks one)${orElse}`;
      return new Error(`${listener.what} ${where} is already in use (EADDRINUSE): ${advice}`, cause);
    }
    case 'EACCES':
      return new Error(`${listener.what} ${where} needs privileges (EACCES): set ${listener.portSetting} above 1023`, cause);
    case 'EADDRNOTAVAIL':
      return new Error(`${listener.hostSetting} ${listener.host} is not an address of this machine (EADDRNOTAVAIL)`, cause);
    // Node's listen() resolves a host name first; the bare getaddrinfo error names no setting.
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new Error(`${listener.hostSetting} ${listener.host} does not resolve to an address (${errno})`, cause);
    case UNRESOLVED:
      return new Error(`${listener.hostSetting} ${listener.host} does not resolve to an address`, cause);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}
