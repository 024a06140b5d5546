/**
 * grpc.health.v1.Health (Check, List, Watch) with the semantics of
 * https://github.com/grpc/grpc/blob/master/doc/health-checking.md.
 *
 * The service name '' stands for the whole server. A service is "known" once it has been given a
 * status; nothing is known at construction unless passed in, so a probe fails until main.ts says
 * the server is ready.
 */
import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as WireStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListResponse,
  HealthService,
  type HealthServer,
} from '../gen/grpc/health/v1/health.js';
import { quotedName, toGrpcStatus } from './errors.js';
import { tolerantRequests, undecodableError } from './undecodable.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/** Called on every status change of the watched service. */
type Listener = () => void;

type WatchCall = grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

const WIRE: Readonly<Record<ServingStatus, WireStatus>> = {
  SERVING: WireStatus.SERVING,
  NOT_SERVING: WireStatus.NOT_SERVING,
};

interface EndStatus {
  readonly code: grpc.status;
  readonly details: string;
}

export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Every open Watch call and how to unsubscribe it, so shutdown can end them all. */
  private readonly openWatches = new Map<WatchCall, () => void>();
  /** Set by endWatches: later Watch calls end at once instead of holding up shutdown again. */
  private endedWith: EndStatus | undefined;

  /** For `server.addService(registry.definition, registry.implementation)`: bad bytes are INVALID_ARGUMENT, not INTERNAL. */
  readonly definition = tolerantRequests(HealthService);

  /** The handlers for `server.addService(registry.definition, registry.implementation)`. */
  readonly implementation: HealthServer = {
    check: (call, callback) => {
      const refused = undecodable(call.request);
      if (refused) {
        callback(refused);
        return;
      }
      const status = this.statuses.get(call.request.service);
      if (status === undefined) {
        // Health is a protocol of its own: NOT_FOUND here is its contract, not a domain error. The
        // name is cut short: a status over the client's cap on trailers never reaches it.
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${quotedName(call.request.service)}"` });
        return;
      }
      callback(null, { status: WIRE[status] });
    },
    list: (call, callback) => {
      const refused = undecodable(call.request);
      if (refused) {
        callback(refused);
        return;
      }
      const statuses: HealthListResponse['statuses'] = {};
      for (const [service, status] of this.statuses) statuses[service] = { status: WIRE[status] };
      callback(null, { statuses });
    },
    watch: (call) => this.watch(call),
  };

  constructor(initial: Readonly<Record<string, ServingStatus>> = {}) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  /** Sets one service's status ('' = the whole server); Watch streams hear only real changes. */
  setStatus(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    const listeners = this.listeners.get(service);
    if (listeners) for (const listener of listeners) listener();
  }

  /** Sets every known service, and the whole server (''), to one status: e.g. NOT_SERVING on drain. */
  setAll(status: ServingStatus): void {
    const services = new Set([...this.statuses.keys(), '']);
    for (const service of services) this.setStatus(service, status);
  }

  getStatus(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** How many Watch streams are open (for tests and shutdown logs). */
  get watchCount(): number {
    return this.openWatches.size;
  }

  /**
   * Ends every open Watch stream with this status, and every Watch that arrives later too: this
   * is for shutdown, where a client that reconnects its Watch must not hold the server open.
   */
  endWatches(code: grpc.status = grpc.status.UNAVAILABLE, message = 'server is shutting down'): void {
    this.endedWith = { code, details: message };
    for (const call of [...this.openWatches.keys()]) this.finish(call, this.endedWith);
  }

  private watch(call: WatchCall): void {
    if (call.cancelled) return;
    const refused = undecodable(call.request);
    if (refused) {
      call.emit('error', refused);
      return;
    }
    if (this.endedWith) {
      this.finish(call, this.endedWith);
      return;
    }
    const service = call.request.service;
    let lastSent: WireStatus | undefined;
    let waitingForDrain = false;

    // A slow reader never gets a queue of stale statuses: while the stream is full we skip
    // writes, and on 'drain' send only the latest status if it differs from the last one sent.
    const send: Listener = () => {
      if (waitingForDrain) return;
      const status = this.statuses.get(service);
      const wire = status === undefined ? WireStatus.SERVICE_UNKNOWN : WIRE[status];
      if (wire === lastSent) return;
      lastSent = wire;
      if (!call.write({ status: wire })) {
        waitingForDrain = true;
        call.once('drain', () => {
          waitingForDrain = false;
          send();
        });
      }
    };

    let listeners = this.listeners.get(service);
    if (!listeners) {
      listeners = new Set();
      this.listeners.set(service, listeners);
    }
    listeners.add(send);

    // 'cancelled' covers a client that goes away (and fires after normal ends too); 'close'
    // covers any other end. Removal is idempotent, so both may fire.
    const remove = (): void => this.forget(call, service, send);
    this.openWatches.set(call, remove);
    call.once('cancelled', remove);
    call.once('close', remove);

    send();
  }

  private finish(call: WatchCall, status: EndStatus): void {
    // Unsubscribe first: a status change after the end would be a write after end.
    this.openWatches.get(call)?.();
    if (status.code === grpc.status.OK) {
      call.end();
    } else {
      // emit('error') makes grpc-js end the stream with this status; destroy() would send none.
      call.emit('error', { code: status.code, details: status.details });
    }
  }

  private forget(call: WatchCall, service: string, listener: Listener): void {
    this.openWatches.delete(call);
    const listeners = this.listeners.get(service);
    if (!listeners) return;
    listeners.delete(listener);
    if (listeners.size === 0) this.listeners.delete(service);
  }
}

/** The INVALID_ARGUMENT status for a request that could not be decoded, or undefined for a decoded one. */
function undecodable(request: unknown): grpc.StatusObject | undefined {
  const err = undecodableError(request);
  return err && toGrpcStatus(err);
}
