import type { Kysely } from 'kysely';
import { invalidArgument, type FieldViolation } from '../../domain/errors.js';
import { adminRequired, databaseOff, databaseUnreachable } from '../../domain/service-errors.js';
import type { Timestamp } from '../../gen/google/protobuf/timestamp.js';
import { LedgerCall, type UsageFilter, type UsageServiceServer } from '../../gen/orchestrator/v1/usage.js';
import type { CallContext } from '../../engine/index.js';
import { listCalls, routingAnalytics, type ListedCall } from '../../store/call-queries.js';
import type { RunningLedger } from '../../store/index.js';
import { compareValues, groupValues, usageDimensions, usageTotals, type LedgerFilter, type UsageDimension } from '../../store/queries.js';
import type { LedgerSchema } from '../../store/schema.js';
import type { CallDeps } from '../call.js';
import { isLoopback, withDatabase, type AdminAccess } from '../admin.js';
import { decodePageToken, decodeUsagePageToken, encodePageToken, encodeUsagePageToken } from '../page-token.js';
import { DIMENSION_OF, encodeCall, encodeUsageRow, routingProfileOf } from '../usage-encode.js';
import { extend } from '../../domain/extend.js';

/** API keys are configured (otherwise only loopback callers may read the ledger); who is an admin. */
export type UsageAccess = AdminAccess;

const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;
/**
 * GetUsage rows per page, and the default: a row's text is cut to its columns (at most 1.5 KiB
 * of UTF-8 over key, model, provider and method) and its numbers and error codes take under
 * 1 KiB, so a page stays well under the 4 MiB a gRPC client takes by default.
 */
const MAX_USAGE_PAGE = 1000;

/** UsageService: reads of the ledger, scoped to the caller's own key unless it is an admin. */
export function usageService(deps: CallDeps, ledger: RunningLedger, access: UsageAccess): UsageServiceServer {
  // Each read runs in withDatabase: a database that went away since start-up answers as one not reached yet.
  const database = (): Kysely<LedgerSchema> => {
    const db = ledger.database()?.reads;
    if (db) return db;
    throw ledger.store ? databaseUnreachable() : databaseOff('usage records');
  };

  // Called once the request's fields are valid (see `checked`).
  const scope = (filter: LedgerFilter, ctx: CallContext, peer: string): LedgerFilter => {
    if (!access.keysEnabled()) {
      if (!isLoopback(peer)) throw adminRequired('with no API keys configured, the ledger answers only callers on this machine (loopback)');
      return filter;
    }
    const name = ctx.principal?.name;
    if (name !== undefined && access.isAdmin(name)) return filter;
    if (filter.keyName !== undefined && filter.keyName !== name)
      throw adminRequired("only a key with the admin scope may read another key's usage");
    return extend(filter, { keyName: name ?? '' });
  };

  return {
    getUsage: withDatabase(deps, databaseUnreachable, async (req, ctx, peer) => {
      const violations: FieldViolation[] = [];
      const groups = req.groupBy.flatMap((g, i): UsageDimension[] => {
        const d = DIMENSION_OF[g];
        if (!d) violations.push({ field: `group_by[${i}]`, description: 'unknown or unspecified group' });
        return d ? [d] : [];
      });
      if (req.pageSize < 0 || req.pageSize > MAX_USAGE_PAGE)
        violations.push({ field: 'page_size', description: `from 1 to ${MAX_USAGE_PAGE} (0: ${MAX_USAGE_PAGE})` });
      const selection = { filter: scope(checked(violations, req.filter), ctx, peer), groups: usageDimensions(groups) };
      // The page token is checked before the database is asked for.
      const after = decodeUsagePageToken(req.pageToken, selection);
      const rows = await usageTotals(database(), selection.filter, selection.groups);
      const found = after === undefined ? 0 : rows.findIndex((r) => compareValues(groupValues(selection.groups, r.group), after) > 0);
      const start = found < 0 ? rows.length : found;
      const page = rows.slice(start, start + (req.pageSize || MAX_USAGE_PAGE));
      const last = page.at(-1);
      const more = last !== undefined && start + page.length < rows.length;
      return {
        rows: page.map(encodeUsageRow),
        nextPageToken: more ? encodeUsagePageToken(groupValues(selection.groups, last.group), selection) : '',
      };
    }),

    listCalls: withDatabase(deps, databaseUnreachable, async (req, ctx, peer) => {
      const violations: FieldViolation[] = [];
      if (req.pageSize < 0 || req.pageSize > MAX_PAGE)
        violations.push({ field: 'page_size', description: `from 1 to ${MAX_PAGE} (0: ${DEFAULT_PAGE})` });
      const filter = scope(checked(violations, req.filter), ctx, peer);
      const selection = { filter, requestId: req.requestId || undefined, successful: req.successful };
      // The page token is checked before the database is asked for.
      const query = extend(selection, { pageSize: req.pageSize || DEFAULT_PAGE, after: decodePageToken(req.pageToken, selection) });
      const page = await listCalls(database(), query);
      const { calls, next } = withinClientLimit(page.calls, page.next);
      return { calls, nextPageToken: next ? encodePageToken(next, selection) : '' };
    }),

    getRoutingAnalytics: withDatabase(deps, databaseUnreachable, async (req, ctx, peer) => {
      const filter = scope(checked([], req.filter), ctx, peer);
      const profiles = await routingAnalytics(database(), filter);
      return {
        profiles: profiles.map((p) => ({
          profile: routingProfileOf(p.profile),
          decisions: p.decisions,
          models: p.models.map((m) => extend(m, { latency: { p50Ms: m.latency.p50, p95Ms: m.latency.p95, p99Ms: m.latency.p99 } })),
        })),
      };
    }),
  };
}

/**
 * Every gRPC library refuses a message over 4 MiB unless told otherwise, and with
 * LEDGER_CONTENT=full a few calls with long prompts pass that: a page that would ends before the
 * call that takes it over (it always holds one call), and the next page starts there. The room
 * kept covers the page token and the fields' own framing.
 */
const CLIENT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;
const PAGE_FRAMING_BYTES = 1024;

function withinClientLimit(
  listed: readonly ListedCall[],
  next: { ts: number; id: string } | undefined,
): { calls: LedgerCall[]; next: { ts: number; id: string } | undefined } {
  const calls: LedgerCall[] = [];
  let bytes = PAGE_FRAMING_BYTES;
  for (const [i, entry] of listed.entries()) {
    const call = encodeCall(entry);
    // Tag and length of the repeated field: at most 6 bytes for a message under 4 GiB.
    bytes += LedgerCall.encode(call).finish().length + 6;
    const previous = listed[i - 1];
    if (previous && bytes > CLIENT_MAX_RECEIVE_BYTES) return { calls, next: { ts: previous.call.ts, id: previous.call.id } };
    calls.push(call);
  }
  return { calls, next };
}

/**
 * The filter, once every problem of the request is known: `violations` (the request's other
 * fields') and the filter's own are refused together, so a client fixes them in one round.
 */
function checked(violations: readonly FieldViolation[], f: UsageFilter | undefined): LedgerFilter {
  const all = [...violations];
  const start = validTime(f?.startTime, 'filter.start_time', all);
  const end = validTime(f?.endTime, 'filter.end_time', all);
  if (start && end && (end.seconds < start.seconds || (end.seconds === start.seconds && end.nanos <= start.nanos)))
    all.push({ field: 'filter.end_time', description: 'must be after start_time' });
  if (all.length > 0) throw invalidArgument(all);
  // Calls are recorded to the millisecond: one at ms t arrived at or after a time s, and before a
  // time e, when t >= ceil(s) and t < ceil(e). Cut to the millisecond below, both ends took in the
  // millisecond they fall in, a call that arrived before start_time or not before end_time.
  const from = start && start.seconds * 1000 + Math.ceil(start.nanos / 1_000_000);
  const to = end && end.seconds * 1000 + Math.ceil(end.nanos / 1_000_000);
  return {
    from,
    to,
    keyName: f?.keyName || undefined,
    model: f?.model || undefined,
    provider: f?.provider || undefined,
    method: f?.method || undefined,
  };
}

/** google.protobuf.Timestamp's own range: 0001-01-01 to 9999-12-31 UTC, nanos 0 to 999,999,999. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

function validTime(t: Timestamp | undefined, field: string, violations: FieldViolation[]): Timestamp | undefined {
  if (t === undefined) return undefined;
  if (t.seconds >= MIN_SECONDS && t.seconds <= MAX_SECONDS && t.nanos >= 0 && t.nanos <= 999_999_999) return t;
  violations.push({ field, description: 'not a valid Timestamp (0001-01-01 to 9999-12-31 UTC, nanos 0 to 999,999,999)' });
  return undefined;
}
