import { randomFillSync } from 'node:crypto';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing and formatting of the
 * `traceparent` and `tracestate` headers, and fresh ids. No OpenTelemetry here: this part runs
 * on every call, tracing export on or off.
 */

/** A parsed `traceparent`: the caller's trace, and its span as our parent. */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the caller's span. */
  readonly parentId: string;
  /** Trace flags (bit 0: sampled; bit 1: random trace id, Level 2). */
  readonly flags: number;
}

/** Flags we understand and pass on; other bits are cleared when we write version 00. */
const KNOWN_FLAGS = 0x03;
export const SAMPLED_FLAG = 0x01;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** tracestate is opaque to us; we only refuse what could not be a header value or is oversized. */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/**
 * The caller's `traceparent`, or undefined when it is absent or invalid (then we start a new
 * trace). Version 00 must be exactly 55 characters; a later version may carry more fields
 * after a dash, which we ignore; version ff is invalid, and so are all-zero ids.
 */
export function parseTraceparent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined;
  const header = value.trim();
  const match = TRACEPARENT.exec(header);
  if (!match) return undefined;
  const [, version = '', traceId = '', parentId = '', flags = '', rest] = match;
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined;
  return { traceId, parentId, flags: Number.parseInt(flags, 16) };
}

/** `00-<trace-id>-<span-id>-<flags>`: what we send upstream, always version 00. */
export function formatTraceparent(context: { readonly traceId: string; readonly spanId: string; readonly flags: number }): string {
  const flags = (context.flags & KNOWN_FLAGS).toString(16).padStart(2, '0');
  return `00-${context.traceId}-${context.spanId}-${flags}`;
}

/** The caller's `tracestate` when it is a plausible header value (at most 512 printable characters). */
export function sanitizeTracestate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return TRACESTATE.test(trimmed) ? trimmed : undefined;
}

export function newTraceId(): string {
  return nonZeroHex(16);
}

export function newSpanId(): string {
  return nonZeroHex(8);
}

/**
 * Random bytes are drawn from a pool filled 4 KiB at a time: every call needs a trace id and
 * every upstream request a span id, and one `randomBytes` per id was a visible share of the
 * per-call CPU (docs/PERFORMANCE.md). Same CSPRNG, fewer trips into it.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

function nonZeroHex(bytes: number): string {
  for (;;) {
    if (poolOffset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (!/^0+$/.test(hex)) return hex;
  }
}
