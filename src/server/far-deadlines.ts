import * as grpc from '@grpc/grpc-js';
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
/**
 * The header's grammar and units, as grpc-js reads them, but for the whole header: grpc-js looks
 * for the pattern anywhere in it, so `1.5S` was read as 5 s, `-1S` as 1 s and nine digits as
 * their last eight, a deadline other than the one the caller sent. Those are refused as grpc-js
 * refuses a header without the pattern.
 */
const TIMEOUT = /^(\d{1,8})\s*([HMSmun])$/;
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

interface CallWithDeadline {
  deadline: number;
  sendStatus(status: { code: grpc.status; details: string; metadata: null }): void;
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
    const match = TIMEOUT.exec(text);
    if (!match) {
      // grpc-js's own answer to a malformed header, sent once the call is set up as it sends it.
      const status = { code: grpc.status.INTERNAL, details: `Invalid grpc-timeout value "${text}"`, metadata: null };
      process.nextTick(() => this.sendStatus(status));
      return;
    }
    const ms = Number(match[1]) * (UNIT_MS[match[2]!] ?? Number.NaN);
    if (ms > MAX_TIMER_MS) {
      this.deadline = Date.now() + ms;
      return;
    }
    original.call(this, header);
  };
  installed = true;
  return true;
}
