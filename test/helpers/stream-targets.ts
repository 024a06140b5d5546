import type { StreamTarget } from '../../src/engine/index.js';

/** A StreamChat target with one model and no strategy, timeouts from the config. */
export const SINGLE_STREAM: StreamTarget = {
  mode: 'single',
  models: [],
  hedgeDelayMs: undefined,
  restartOnFailure: false,
  firstTokenTimeoutMs: undefined,
  interTokenTimeoutMs: undefined,
};
