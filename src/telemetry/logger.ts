import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';

/**
 * JSON lines to stdout. Asynchronous writes keep logging off the hot path; the buffer is
 * flushed on exit by pino's own handlers.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'llm-orchestrator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['apiKey', '*.apiKey', 'authorization', '*.authorization'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false}),
  );
}

export type { Logger };
