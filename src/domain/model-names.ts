import { longerThan } from './characters.js';

/** The longest model name a request may give (a model, a chain's or route's entry, a candidate), on either door. */
export const MAX_MODEL_NAME_CHARS = 256;

/** Why a model name is too long for a request, in characters (code points) as every contract limit counts; undefined when it is not. */
export function modelNameTooLong(name: string): string | undefined {
  return longerThan(name, MAX_MODEL_NAME_CHARS) ? `must be at most ${MAX_MODEL_NAME_CHARS} characters` : undefined;
}
