import { z } from 'zod';

// Settings of the Node.js runtime itself, applied by serve.ts before the server starts.
export const RUNTIME_ENV = {
  /**
   * off: V8 never moves an allocation site's objects straight to the old generation. A burst of
   * calls in flight (a cold start, a spike) makes V8 decide that the per-call objects live long;
   * the decision sticks, and afterwards every call's garbage fills the old generation: slower
   * scavenges, more major collections, about a fifth more CPU per call at a steady rate.
   */
  V8_PRETENURING: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['on', 'off']).default('off'),
  ),
};
