import type { Sampling } from '../../domain/chat.js';
import { invalidArgument } from '../../domain/errors.js';

/** The Messages API body fields the sampling controls fill. */
export interface SamplingBody {
  top_p?: number;
  stop_sequences?: string[];
  metadata?: { user_id?: string | null };
}

/**
 * The Messages API's share of the sampling controls: top_p, stop_sequences, and the end user as
 * metadata.user_id. It has no seed, no penalties and no reasoning_effort, API versions without
 * sampling parameters refuse top_p, and it refuses stop sequences of only whitespace: a request
 * that sets them is refused, naming field and provider,
 * rather than answered as if they had been honoured. Fields are named by their gRPC path
 * (`sampling.seed`); the HTTP door spells them as the OpenAI body does.
 */
export function applySampling(
  body: SamplingBody,
  sampling: Sampling,
  where: { provider: string; model: string; takesTopP: boolean },
): void {
  const refused: [string, unknown][] = [
    ['seed', sampling.seed],
    ['presence_penalty', sampling.presencePenalty],
    ['frequency_penalty', sampling.frequencyPenalty],
    ['top_p', where.takesTopP ? undefined : sampling.topP],
    // Its thinking budget is another API, with no level that maps onto these.
    ['reasoning_effort', sampling.reasoningEffort],
  ];
  const violations = refused
    .filter(([, value]) => value !== undefined)
    .map(([field]) => ({
      field: `sampling.${field}`,
      description: `provider ${where.provider} (model ${where.model}) cannot honour ${field}: remove it or choose a model of another provider`,
    }));
  // The API answers 400 to a stop sequence of only whitespace (a "\n" is common with OpenAI).
  sampling.stop?.forEach((stop, i) => {
    if (stop.trim() === '') {
      violations.push({
        field: `sampling.stop[${i}]`,
        description: `provider ${where.provider} (model ${where.model}) cannot honour a stop sequence of only whitespace: remove it or choose a model of another provider`,
      });
    }
  });
  if (violations.length > 0) throw invalidArgument(violations);
  if (sampling.topP !== undefined) body.top_p = sampling.topP;
  if (sampling.stop) body.stop_sequences = [...sampling.stop];
  if (sampling.user !== undefined) body.metadata = { user_id: sampling.user };
}
