/**
 * Facts about Anthropic API versions (the `anthropic-version` header), shared by the provider
 * and the simulator that stands in for the API. Versions are dates, so they compare as strings.
 */

/**
 * The first version without sampling parameters: from it on, `temperature`, `top_p` and
 * `top_k` are refused with HTTP 400, even at their default values. @anthropic-ai/sdk 1.x sends
 * this version by default and has no such parameters; 2023-06-01, the version before it, takes
 * `temperature` in 0..1.
 */
export const FIRST_VERSION_WITHOUT_SAMPLING = '2026-10-21';

export function acceptsSampling(version: string): boolean {
  return version < FIRST_VERSION_WITHOUT_SAMPLING;
}
