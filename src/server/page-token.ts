import { createHash } from 'node:crypto';
import { invalidArgument } from '../domain/errors.js';
import type { CallListQuery } from '../store/call-queries.js';

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
