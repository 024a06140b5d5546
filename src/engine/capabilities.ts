import type { CatalogModel } from '../catalog/catalog.js';
import { TEXT_ONLY } from '../catalog/models.js';
import type { ChatInput } from '../domain/chat.js';
import { requiredCapabilities } from '../domain/conversation.js';
import type { FieldViolation } from '../domain/errors.js';
import {
  REASONING_ONLY_SAMPLING,
  type ReasoningEffort,
  reasoningEffortsOf,
  reasoningSamplingOf,
  refusedSamplingOf,
  refusedStopOf,
  takesReasoningEffort,
  takesSampling,
  takesParallelToolCalls,
  takesStop,
} from '../domain/reasoning-models.js';
import type { RequiredCapabilities } from '../domain/tools.js';
import type { ModelRef } from './requests.js';

const NAMES: Readonly<Record<keyof RequiredCapabilities, string>> = {
  tools: 'tools',
  images: 'images',
  jsonSchema: 'JSON Schema output',
};

/** What a request uses that only some models take: capabilities, and sampling parameters some models refuse. */
export interface Requirements extends RequiredCapabilities {
  /** Those reasoning models refuse, by their API names (top_p...); empty when the request sets none. */
  readonly samplingParameters: readonly string[];
  /** `stop`, which o3, o4-mini and the GPT-5 models refuse at any effort; empty when the request sets none. */
  readonly stopParameters: readonly string[];
  /** `parallel_tool_calls`, which the o-series models refuse at either value; empty when the request leaves it unset. */
  readonly toolParameters: readonly string[];
  /** Those only reasoning models take (reasoning_effort); empty when the request sets none. */
  readonly reasoningParameters: readonly string[];
  /** The level asked for: a model that reasons only when asked refuses samplingParameters above `none`. */
  readonly reasoningEffort: ReasoningEffort | undefined;
}

const PARALLEL_TOOL_CALLS = 'parallel_tool_calls';

export function capabilitiesOf(input: ChatInput): Requirements {
  const required = requiredCapabilities(input.messages, input.tooling);
  return {
    tools: required.tools,
    images: required.images,
    jsonSchema: required.jsonSchema,
    samplingParameters: refusedSamplingOf(input.sampling),
    stopParameters: refusedStopOf(input.sampling),
    toolParameters: input.tooling?.parallelToolCalls === undefined ? [] : [PARALLEL_TOOL_CALLS],
    reasoningParameters: reasoningSamplingOf(input.sampling),
    reasoningEffort: input.sampling?.reasoningEffort,
  };
}

/** What the request uses that the model lacks (a model without `capabilities` takes text only). */
export function lacking(model: CatalogModel, required: Requirements): string[] {
  const has = model.capabilities ?? TEXT_ONLY;
  const missing = (Object.keys(NAMES) as (keyof RequiredCapabilities)[]).filter((k) => required[k] && !has[k]).map((k) => NAMES[k]);
  if (required.samplingParameters.length > 0 && !takesSampling(model.upstreamId, required.reasoningEffort))
    missing.push(...required.samplingParameters);
  if (required.stopParameters.length > 0 && !takesStop(model.upstreamId)) missing.push(...required.stopParameters);
  if (required.toolParameters.length > 0 && !takesParallelToolCalls(model.upstreamId)) missing.push(...required.toolParameters);
  if (required.reasoningParameters.length > 0 && !takesReasoningEffort(model.upstreamId)) missing.push(...required.reasoningParameters);
  else if (required.reasoningEffort !== undefined && !takesReasoningEffort(model.upstreamId, required.reasoningEffort))
    missing.push(
      `${REASONING_ONLY_SAMPLING.reasoningEffort} ${required.reasoningEffort} (it takes ${reasoningEffortsOf(model.upstreamId).join(', ')})`,
    );
  return missing;
}

const LACKS = 'does not take ';

/** Why routing leaves a model out: the reason shown in the ranking. */
export function lackingReason(model: CatalogModel, required: Requirements): string | undefined {
  const missing = lacking(model, required);
  return missing.length > 0 ? `${LACKS}${missing.join(', ')}` : undefined;
}

/** Whether a ranking's exclusion reason is one `lackingReason` gave. */
export function isLackingReason(reason: string | undefined): boolean {
  return reason?.startsWith(LACKS) ?? false;
}

/**
 * The models of a plan that take what the request uses, in order: a chain or a race skips the
 * others. When none does, each is refused by the field that named it, with what it lacks.
 */
export function usableModels(
  pairs: readonly { model: CatalogModel; ref: ModelRef }[],
  required: Requirements,
): { usable: { model: CatalogModel; ref: ModelRef }[]; violations: FieldViolation[] } {
  const usable = pairs.filter((p) => lacking(p.model, required).length === 0);
  if (usable.length > 0 || pairs.length === 0) return { usable, violations: [] };
  const violations = pairs.map((p) => ({
    field: p.ref.field,
    description: `${p.model.id} does not take ${lacking(p.model, required).join(', ')}, which this request uses: choose a model that does`,
  }));
  return { usable, violations };
}
