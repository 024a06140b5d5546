import { OrchestratorError } from '../domain/errors.js';
import { UPSTREAM_REQUEST_ID } from '../domain/upstream-errors.js';

/**
 * The header each API names its requests in: OpenAI and most OpenAI-compatible servers in
 * `x-request-id`, Anthropic in `request-id` (their SDKs read the same ones).
 */
export const REQUEST_ID_HEADER = { openai: 'x-request-id', anthropic: 'request-id' } as const;

/** OpenAI's and Anthropic's ids are under 40 characters: room for other servers' longer ones. */
const MAX_ID_CHARS = 128;

/** Anything but printable ASCII. */
const UNPRINTABLE = /[^\x20-\x7e]/g;

type HeaderReader = { get(name: string): string | null };

/**
 * The upstream's id of a request, from its response headers. A header is the upstream's input
 * and the id goes into log lines and gRPC trailers: only its printable ASCII is kept, at most
 * MAX_ID_CHARS of it; undefined when nothing is left. Only what comes before a comma: a header
 * sent twice (a proxy on the way adding its own) reads as `a, b`, and a comma separates the
 * entries of ALL_ATTEMPTS_FAILED's `upstream_request_ids`, which an id holding one would split.
 */
export function upstreamRequestIdOf(headers: HeaderReader | null | undefined, name: string): string | undefined {
  const raw = headers?.get(name);
  if (raw === null || raw === undefined) return undefined;
  const comma = raw.indexOf(',');
  const id = (comma < 0 ? raw : raw.slice(0, comma)).replace(UNPRINTABLE, '').trim().slice(0, MAX_ID_CHARS);
  return id === '' ? undefined : id;
}

/**
 * `err` naming the upstream's id of the request it is the failure of, read from that request's
 * response headers only now that it failed. An abort is the gateway's decision (the caller gone,
 * a deadline, a stall, a race lost), not the upstream's failure: its reason stays as it is, as
 * does anything but an OrchestratorError.
 */
export function withUpstreamRequestId(
  err: unknown,
  response: { readonly headers: HeaderReader | null | undefined; readonly header: string; readonly signal: AbortSignal },
): unknown {
  if (!(err instanceof OrchestratorError) || response.signal.aborted || err.metadata[UPSTREAM_REQUEST_ID] !== undefined) return err;
  const id = upstreamRequestIdOf(response.headers, response.header);
  return id === undefined ? err : err.withMetadata({ [UPSTREAM_REQUEST_ID]: id });
}
