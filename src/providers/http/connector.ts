import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import type { buildConnector as BuildConnector } from 'undici';
import { buildConnector, errors } from './undici-core.js';
import { extend } from '../../domain/extend.js';

/** Why an address may not be connected to, or undefined when it may (config/ssrf.ts's rule). */
export type AddressPolicy = (address: string) => string | undefined;

/** DNS for the connector: every address of a host name, as `dns.lookup(host, { all: true })`. */
export type ResolveAll = (hostname: string, family: number) => Promise<readonly LookupAddress[]>;

export interface ConnectorOptions {
  readonly timeoutMs: number;
  /** Checked against every address a new connection would use; unset: no check. */
  readonly policy?: AddressPolicy;
  /** Replaces the system resolver (tests use it to change answers between connections). */
  readonly resolve?: ResolveAll;
}

/** A connection refused because its address is one the SSRF rules forbid. */
export class RefusedAddressError extends Error {
  readonly code = 'ERR_REFUSED_ADDRESS';

  constructor(
    readonly host: string,
    readonly address: string,
    readonly kind: string,
  ) {
    super(host === address ? `${address} is ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}` : `${host} resolves to ${kind} ${address}`);
    this.name = 'RefusedAddressError';
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * undici's connector with two additions, for every new connection:
 *
 * - the SSRF rules on the address actually connected to. The start-up check only saw what a
 *   name resolved to then; a name that later resolves to a refused address (DNS rebinding) is
 *   refused here, before any packet is sent, by a `lookup` hook that checks every answer.
 *   IP literals never reach `lookup` and are checked directly.
 *
 * - no reconnect for an aborted request. undici 7 (up to 7.30.3) destroys the socket of an
 *   aborted in-flight HTTP/1.1 request with an informational error, which puts the request back
 *   in the queue as pending, and its resume loop opens a new connection for it before noticing it
 *   was aborted (nodejs/undici#5845, fixed only in undici 8, which needs Node 22): every cancelled
 *   stream opened one extra upstream connection that carried nothing. Turning that one error into
 *   an ordinary one makes undici fail the request instead of re-queueing it.
 */
export function guardedConnector(options: ConnectorOptions): BuildConnector.connector {
  const policy = options.policy;
  const lookup = policy ? guardedLookup(policy, options.resolve) : undefined;
  const final = abortsStayFinal(
    buildConnector({
      timeout: options.timeoutMs,
      ...(lookup ? { lookup } : {}),
    } as BuildConnector.BuildOptions),
  );
  return (opts, callback) => {
    if (policy && isIP(opts.hostname)) {
      const kind = policy(opts.hostname);
      if (kind) {
        callback(new RefusedAddressError(opts.hostname, opts.hostname, kind), null);
        return;
      }
    }
    final(opts, callback);
  };
}

/** `connect` whose sockets never carry an aborted request back into the queue (the second point above). */
function abortsStayFinal(connect: BuildConnector.connector): BuildConnector.connector {
  return (opts, callback) => {
    connect(opts, (err, socket) => {
      if (err || !socket) {
        callback(err ?? new Error('no socket'), null);
        return;
      }
      keepAbortsFromReconnecting(socket);
      callback(null, socket);
    });
  };
}

/**
 * The connector undici's proxy agent opens its tunnels with (`CONNECT host:port`), made to behave
 * as a direct one:
 *
 * - its sockets get the abort handling above;
 * - a proxy that drops the tunnel before answering is a failed connection. undici reports it as
 *   a socket error (UND_ERR_SOCKET), which its client takes for one that a new connection cures:
 *   it opens another tunnel at once, and another, as fast as the proxy drops them, and the
 *   request waits on, deaf to its abort signal. Any other error code fails the requests waiting.
 */
export function tunnelConnector(connect: BuildConnector.connector): BuildConnector.connector {
  const final = abortsStayFinal(connect);
  return (opts, callback) => {
    final(opts, (err, socket) => {
      if (!err && socket) callback(null, socket);
      else if ((err as { code?: unknown } | null)?.code !== 'UND_ERR_SOCKET') callback(err ?? new Error('no socket'), null);
      else {
        const where = `${opts.hostname}${opts.port ? `:${opts.port}` : ''}`;
        callback(
          Object.assign(new Error(`the proxy closed the tunnel to ${where} unanswered`, { cause: err }), { code: 'ECONNRESET' }),
          null,
        );
      }
    });
  };
}

function keepAbortsFromReconnecting(socket: Socket): void {
  const destroy = socket.destroy.bind(socket);
  socket.destroy = (error?: Error): Socket => {
    if (error instanceof errors.InformationalError && error.message === 'aborted') {
      return destroy(new errors.RequestAbortedError());
    }
    return destroy(error);
  };
}

function guardedLookup(policy: AddressPolicy, resolve: ResolveAll | undefined) {
  return (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    const family = typeof lookupOptions.family === 'number' ? lookupOptions.family : 0;
    const answers: Promise<readonly LookupAddress[]> = resolve
      ? resolve(hostname, family)
      : new Promise((ok, fail) => {
          dnsLookup(hostname, extend(lookupOptions, { all: true as const }), (err, addresses) => (err ? fail(err) : ok(addresses)));
        });
    answers.then(
      (addresses) => {
        for (const { address } of addresses) {
          const kind = policy(address);
          if (kind) {
            callback(new RefusedAddressError(hostname, address, kind), '');
            return;
          }
        }
        if (lookupOptions.all) callback(null, [...addresses]);
        else if (addresses[0]) callback(null, addresses[0].address, addresses[0].family);
        else callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
