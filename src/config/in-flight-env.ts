import { z } from 'zod';
import { number } from './env-values.js';

// Per-provider caps on upstream requests in flight; the config file's providers[].max_in_flight
// and providers[].queue_max override them for one provider.
export const IN_FLIGHT_ENV = {
  /** 0: no cap. */
  UPSTREAM_MAX_IN_FLIGHT: number(z.number().int().min(0).max(1_000_000), 1024),
  /** 0: no queue, a call that finds every slot taken is refused at once. */
  UPSTREAM_QUEUE_MAX: number(z.number().int().min(0).max(1_000_000), 1024),
};
