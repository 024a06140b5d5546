import type { Client as UndiciClient, Dispatcher } from 'undici';
import { Client } from './undici-core.js';

interface Connection {
  readonly client: UndiciClient;
  /** Requests handed to it that have not ended yet. */
  active: number;
}

/** One request's share of a connection: `release()` once its response has ended, however. */
export interface Http2Lease {
  readonly dispatcher: Dispatcher;
  release(): void;
}

/**
 * HTTP/2 connections to upstreams, shared by concurrent requests, `maxStreams` each. undici's
 * own Pool counts a connection still being set up as busy, so a burst of calls that arrives
 * before the first connection is up opens one connection per call; this pool counts the requests
 * it has handed each connection instead, so a burst fills one connection before the next opens.
 * A connection whose socket closed (idle, or the server went away) reconnects on its next request.
 */
export class Http2Pool {
  readonly #connections = new Map<string, Connection[]>();
  readonly #options: UndiciClient.Options;
  readonly #maxStreams: number;

  constructor(options: UndiciClient.Options, maxStreams: number) {
    // undici's HTTP/2 client takes any number of requests on one connection, past what the server
    // allows at once (the rest would wait inside the session): the cap is ours, per connection.
    this.#options = { ...options, allowH2: true, pipelining: maxStreams, maxConcurrentStreams: maxStreams };
    this.#maxStreams = maxStreams;
  }

  acquire(origin: string): Http2Lease {
    let connections = this.#connections.get(origin);
    if (!connections) {
      connections = [];
      this.#connections.set(origin, connections);
    }
    let connection = connections.find((c) => c.active < this.#maxStreams);
    if (!connection) {
      connection = { client: new Client(origin, this.#options), active: 0 };
      connections.push(connection);
    }
    const leased = connection;
    leased.active += 1;
    let released = false;
    return {
      dispatcher: leased.client,
      release: () => {
        if (released) return;
        released = true;
        leased.active -= 1;
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.#all().map((c) => c.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all(this.#all().map((c) => c.destroy()));
  }

  #all(): UndiciClient[] {
    return [...this.#connections.values()].flatMap((list) => list.map((c) => c.client));
  }
}
