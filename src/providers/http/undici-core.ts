import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/**
 * The four pieces of undici the upstream transport uses (the keep-alive Agent, the connector
 * builder, the error classes and `request`), required by their paths in the package. undici's
 * index loads everything else it ships along with them: fetch and its WHATWG classes,
 * WebSocket, EventSource, the cache stores, the mock agents, the interceptors. A gateway never
 * uses those, and a fresh process kept them in its heap (measured in docs/PERFORMANCE.md,
 * "Memory: idle and per stream"). The package has no `exports` map, so these paths are part of
 * what it publishes; undici is pinned to an exact version, and the transport's tests exercise
 * every piece loaded here.
 */
const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export const buildConnector = require('undici/lib/core/connect.js') as typeof Undici.buildConnector;
export const errors = require('undici/lib/core/errors.js') as typeof Undici.errors;
const Pool = require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
const Client = require('undici/lib/dispatcher/client.js') as typeof Undici.Client;

/** A dispatcher for one origin, as the Agent's default factory makes it (the Agent loads both). */
export function originPool(origin: string | URL, options: Undici.Pool.Options): Undici.Dispatcher {
  return options.connections === 1 ? new Client(origin, options) : new Pool(origin, options);
}

/** undici's `Dispatcher.prototype.request`, which its index adds to every dispatcher. */
const requestOn = require('undici/lib/api/api-request.js') as (
  this: Undici.Dispatcher,
  options: Undici.Dispatcher.RequestOptions,
) => Promise<Undici.Dispatcher.ResponseData>;

/** `dispatcher.request(options)`, on any dispatcher, whether or not undici's index was loaded. */
export function request(dispatcher: Undici.Dispatcher, options: Undici.Dispatcher.RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  return requestOn.call(dispatcher, options);
}

/**
 * undici's agent for the HTTP_PROXY / HTTPS_PROXY / NO_PROXY rules, loaded only where a proxy is
 * set (it brings the proxy and SOCKS agents with it). Its tunnels are opened by the proxy client's
 * `connect()`, which undici's index adds to every dispatcher: added here the same way, once.
 */
export function envHttpProxyAgent(): typeof Undici.EnvHttpProxyAgent {
  const dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
  const proto = dispatcher.prototype as Partial<Pick<Undici.Dispatcher, 'connect'>>;
  proto.connect ??= require('undici/lib/api/api-connect.js') as Undici.Dispatcher['connect'];
  return require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof Undici.EnvHttpProxyAgent;
}
