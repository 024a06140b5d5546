import { createRequire } from 'node:module';
import { MAX_TIMER_MS } from '../domain/timers.js';

/**
 * grpc-js (1.14) reads a call's `grpc-timeout` into a 32-bit integer (`| 0`), so a deadline more
 * than MAX_TIMER_MS (2^31 ms, 24.8 days) away wraps to a negative wait and the call ends
 * DEADLINE_EXCEEDED the moment it arrives. Clients that mean "no real deadline" send such values: grpc-js's own client
 * sends `2592000S` for a 30-day deadline (and sets no timer of its own past 2^31 ms), grpc-go up to
 * eight digits of hours. Such a deadline is kept here as the call's deadline (`getDeadline()`,
 * which the handlers turn into the engine's, whose timers are clamped) without grpc-js's timer,
 * which could not be set that far anyway; shorter ones go through grpc-js unchanged.
 */
/** The header's grammar and units, as grpc-js reads them. */
const TIMEOUT = /(\d{1,8})\s*([HMSmun])/;
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

interface CallWithDeadline {
  deadline: number;
}

interface TimeoutReader {
  handleTimeoutHeader(this: CallWithDeadline, header: unknown): void;
}

let installed = false;

/** Makes grpc-js's server honour far deadlines; true once in place (false: this grpc-js has no such method to correct). */
export function acceptFarDeadlines(): boolean {
  if (installed) return true;
  const require = createRequire(import.meta.url);
  // The same module instance grpc-js's server uses: no exports map, so the path resolves to its file.
  const module = require('@grpc/grpc-js/build/src/server-interceptors.js') as {
    BaseServerInterceptingCall?: { prototype: Partial<TimeoutReader> };
  };
  const proto = module.BaseServerInterceptingCall?.prototype;
  const original = proto?.handleTimeoutHeader;
  if (!proto || typeof original !== 'function') return false;
  proto.handleTimeoutHeader = function (this: CallWithDeadline, header: unknown): void {
    const text = String(header);
    // Eight digits of m, u or n stay under 2^31 ms (the usual header: grpc-js sends m below 27 hours).
    const unit = text.charAt(text.length - 1);
    if (unit === 'm' || unit === 'u' || unit === 'n') {
      original.call(this, header);
      return;
    }
    const match = TIMEOUT.exec(text);
    const ms = match ? Number(match[1]) * (UNIT_MS[match[2]!] ?? Number.NaN) : Number.NaN;
    if (ms > MAX_TIMER_MS) {
      this.deadline = Date.now() + ms;
      return;
    }
    original.call(this, header);
  };
  installed = true;
  return true;
}
