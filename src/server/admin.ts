import type * as grpc from '@grpc/grpc-js';
import type { OrchestratorError } from '../domain/errors.js';
import { adminRequired } from '../domain/service-errors.js';
import type { CallContext } from '../engine/index.js';
import { isDatabaseAway } from '../store/database.js';
import { unary, type CallDeps } from './call.js';

/** Who may call the admin RPCs: a key with the `admin` scope; with no keys at all, loopback callers. */
export interface AdminAccess {
  /** API keys are configured (read at each call: runtime keys come and go). */
  keysEnabled(): boolean;
  isAdmin(keyName: string): boolean;
}

/** Refuses a caller that is not an admin (PERMISSION_DENIED, ADMIN_REQUIRED). */
export function requireAdmin(access: AdminAccess, ctx: CallContext, peer: string): void {
  if (!access.keysEnabled()) {
    if (!isLoopback(peer)) throw adminRequired('with no API keys configured, admin RPCs answer only callers on this machine (loopback)');
    return;
  }
  const name = ctx.principal?.name;
  if (name === undefined || !access.isAdmin(name)) throw adminRequired('this RPC needs a key with the admin scope');
}

/** A unary handler that also gets the peer address (the CallContext does not carry it). */
export function withPeer<Req, Res>(
  deps: CallDeps,
  handler: (request: Req, ctx: CallContext, peer: string) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => unary(deps, (request: Req, ctx) => handler(request, ctx, call.getPeer()))(call, callback);
}

/**
 * For a `.catch` on database work: a database that went away after start-up (stopped, restarting,
 * its connection lost) answers `away()`, UNAVAILABLE and retryable, as one not reached yet does,
 * rather than INTERNAL, which says the gateway has a bug.
 */
export function databaseAwayAs(away: () => OrchestratorError): (err: unknown) => never {
  return (err) => {
    throw isDatabaseAway(err) ? away() : err;
  };
}

/** An admin handler that works on the ledger database ({@link databaseAwayAs}). */
export function withDatabase<Req, Res>(
  deps: CallDeps,
  away: () => OrchestratorError,
  handler: (request: Req, ctx: CallContext, peer: string) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  const rethrow = databaseAwayAs(away);
  return withPeer(deps, (request: Req, ctx, peer) => handler(request, ctx, peer).catch(rethrow));
}

/** grpc-js peers look like `127.0.0.1:5000`, `[::1]:5000` or `[::ffff:127.0.0.1]:5000`. */
export function isLoopback(peer: string): boolean {
  const host = peer
    .replace(/^ipv[46]:/, '')
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '');
  return host === '::1' || host === 'localhost' || /^(::ffff:)?127\./.test(host);
}
