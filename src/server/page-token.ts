import { createHash } from 'node:crypto';
import { invalidArgument } from '../domain/errors.js';
import type { CallListQuery } from '../store/call-queries.js';
import type { GroupValues, LedgerFilter, UsageDimension } from '../store/queries.js';

/** What a ListCalls page is of: everything in the request but its size and where it starts. */
export type PagedSelection = Omit<CallListQuery, 'pageSize' | 'after'>;

export interface PageCursor {
  readonly ts: number;
  readonly id: string;
}

/**
 * A token carries the last call's time and id, and a short digest of the selection it pages, so
 * a token sent with another filter is refused rather than paging that filter from a cursor of
 * another listing (AIP-158). The scoped filter is digested, so one key cannot page on from
 * another key's listing.
 */
export function encodePageToken(next: PageCursor, selection: PagedSelection): string {
  return Buffer.from(`${next.ts}:${next.id}:${binding(selection)}`).toString('base64url');
}

export function decodePageToken(token: string, selection: PagedSelection): PageCursor | undefined {
  if (!token) return undefined;
  // Tokens handed out before they were bound have no digest: they still page on.
  const match = /^(\d+):([\w-]+)(?::([\w-]+))?$/.exec(Buffer.from(token, 'base64url').toString());
  const ts = Number(match?.[1]);
  // A time no call has (past 53 bits) is no token of ours, and PostgreSQL's bigint refuses it.
  if (!match?.[2] || !Number.isSafeInteger(ts))
    throw invalidArgument([{ field: 'page_token', description: 'not a next_page_token from ListCalls' }]);
  if (match[3] !== undefined && match[3] !== binding(selection))
    throw invalidArgument([
      {
        field: 'page_token',
        description: 'made for another filter, request_id or successful: send those as for the first page (only page_size may change)',
      },
    ]);
  return { ts, id: match[2] };
}

function binding(s: PagedSelection): string {
  const f = s.filter;
  const fields = [f.from, f.to, f.keyName, f.model, f.provider, f.method, s.requestId, s.successful];
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url').slice(0, 11);
}

/** What a GetUsage page is of: the scoped filter and the groups (as the totals take them). */
export interface UsageSelection {
  readonly filter: LedgerFilter;
  readonly groups: readonly UsageDimension[];
}

/**
 * A GetUsage token carries the last row's group values (a keyset: a group that appears between
 * pages takes its place in the order, and no row is listed twice) and a digest of the selection,
 * refused with another filter or group_by as ListCalls' tokens are.
 */
export function encodeUsagePageToken(last: GroupValues, selection: UsageSelection): string {
  return Buffer.from(JSON.stringify([usageBinding(selection), last])).toString('base64url');
}

export function decodeUsagePageToken(token: string, selection: UsageSelection): GroupValues | undefined {
  if (!token) return undefined;
  const [binding, values] = parsedJson(Buffer.from(token, 'base64url').toString()) ?? [];
  if (typeof binding !== 'string' || !isGroupValues(values))
    throw invalidArgument([{ field: 'page_token', description: 'not a next_page_token from GetUsage' }]);
  if (binding !== usageBinding(selection))
    throw invalidArgument([
      {
        field: 'page_token',
        description: 'made for another filter or group_by: send those as for the first page (only page_size may change)',
      },
    ]);
  // The digest matched: values of another shape were not handed out by GetUsage.
  const shaped =
    values.length === selection.groups.length &&
    selection.groups.every((g, i) => typeof values[i] === (g === 'day' || g === 'hour' ? 'number' : 'string'));
  if (!shaped) throw invalidArgument([{ field: 'page_token', description: 'not a next_page_token from GetUsage' }]);
  return values;
}

const isGroupValues = (v: unknown): v is GroupValues =>
  Array.isArray(v) && v.every((x: unknown) => typeof x === 'string' || Number.isSafeInteger(x));

/** A token's two parts, [digest, values]; anything else is no token of ours. */
function parsedJson(text: string): readonly unknown[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.length === 2 ? value : undefined;
  } catch {
    return undefined;
  }
}

function usageBinding(s: UsageSelection): string {
  const f = s.filter;
  const fields = ['GetUsage', f.from, f.to, f.keyName, f.model, f.provider, f.method, s.groups];
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url').slice(0, 11);
}
