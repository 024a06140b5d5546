import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config.js';
import { settleWithin } from '../domain/timers.js';
import { maskUrlPassword } from '../domain/url-password.js';

/**
 * One Redis connection for all shared state. Commands fail at once while disconnected (no
 * offline queue), and after COMMAND_TIMEOUT_MS while connected to a Redis that does not answer (a
 * hung host, a network that drops packets, where the connection stays open), so callers fall back
 * or refuse instead of hanging; ioredis keeps reconnecting in the background, and state is shared
 * again as soon as Redis is back.
 */
/** A Redis answers in a millisecond or two; one silent this long is treated as down, per command. */
const COMMAND_TIMEOUT_MS = 500;
/**
 * A connection on which commands wait this long with no answer at all is dropped and made again.
 * A timed-out command stays queued on its connection until Redis answers it, so a hung Redis kept
 * connected would hold every call's commands for the whole outage (memory without bound), make
 * every call wait COMMAND_TIMEOUT_MS per command, and say nothing; dropped, the commands are let
 * go, the outage is logged, and until a new connection is ready commands fail at once.
 */
const SILENT_CONNECTION_MS = 2 * COMMAND_TIMEOUT_MS;

export async function connectRedis(url: string, log: Logger): Promise<Redis> {
  // Loaded only when REDIS_URL is set: a single replica never pays for the client's memory.
  const { Redis: RedisClient } = await import('ioredis');
  const client = new RedisClient(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: COMMAND_TIMEOUT_MS,
    socketTimeout: SILENT_CONNECTION_MS,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
  });
  let down = false;
  let refusedDatabase: string | undefined;
  client.on('error', (err: Error) => {
    // Once Redis refused the database the client is closed for good: what it reports then (the
    // refused SELECT, commands of its handshake cut short) is that refusal, logged as such, not an outage.
    if (refusedDatabase !== undefined) return;
    if (!down) log.warn({ err: err.message }, 'redis unreachable: shared limits, budgets and cache fall back per REDIS_FAILURE_POLICY');
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis reachable again: shared state restored');
    down = false;
  });
  let started = false;
  let settle: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    settle = resolve;
    client.once('ready', () => resolve());
  });
  watchRefusals(client, log, (reason) => {
    if (refusedDatabase !== undefined) return;
    refusedDatabase = reason;
    // At start-up the gateway does not serve on: the configuration error below says why.
    if (started) {
      log.error(
        { err: reason, url: maskUrlPassword(url) },
        'redis refuses the database REDIS_URL names (above its `databases` setting): shared state is off until REDIS_URL or the server is fixed and the gateway restarted; limits, budgets and cache fall back per REDIS_FAILURE_POLICY',
      );
    }
    // ioredis goes on to "ready" on database 0, where another deployment's keys may live: not used at all.
    client.disconnect(false);
    settle();
  });
  await settleWithin(ready, 3_000);
  started = true;
  if (refusedDatabase !== undefined) {
    throw new ConfigError([
      `REDIS_URL: ${maskUrlPassword(url)} names a database this Redis does not have (${refusedDatabase}); use /0 to /N-1 for a server with N databases`,
    ]);
  }
  if (client.status !== 'ready') log.warn({ url: maskUrlPassword(url) }, 'redis not reachable at start-up; will keep trying');
  else log.info({ url: maskUrlPassword(url) }, 'redis connected: limits, budgets and cache are shared');
  return client;
}

/** A refusal is logged at most this often while Redis keeps refusing. */
const REFUSAL_LOG_MS = 60_000;

/**
 * A Redis that answers but refuses (`maxmemory` reached under the default `noeviction` policy, a
 * replica turned read-only) emits no 'error': each command fails on its own, and the limiters,
 * budgets and cache fall back per REDIS_FAILURE_POLICY without a word. Every command passes
 * through `sendCommand`, the one place such a refusal can be seen for all of them.
 */
function watchRefusals(client: Redis, log: Logger, onDatabaseRefused: (reason: string) => void): void {
  let loggedAt = Number.NEGATIVE_INFINITY;
  const onFailure = (err: unknown): void => {
    // NOSCRIPT is the client's own cue to send a script's text after a Redis restart, not a refusal.
    if (!(err instanceof Error) || err.name !== 'ReplyError' || err.message.startsWith('NOSCRIPT')) return;
    if (Date.now() - loggedAt < REFUSAL_LOG_MS) return;
    loggedAt = Date.now();
    log.warn({ err: err.message }, 'redis refuses commands: shared limits, budgets and cache fall back per REDIS_FAILURE_POLICY');
  };
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    // The handshake's own commands (CLIENT SETINFO, which Redis before 7.2 does not know) are the client's affair.
    const handshake = client.status !== 'ready';
    const result = send(command, stream);
    if (!handshake) command.promise.catch(onFailure);
    else if (command.name === 'select') {
      // A refused SELECT (a database number past the server's `databases`) leaves the connection on database 0.
      command.promise.catch((err: unknown) => {
        if (err instanceof Error && err.name === 'ReplyError') onDatabaseRefused(err.message);
      });
    }
    return result;
  };
}
