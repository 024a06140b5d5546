import type { Catalog, CatalogModel } from '../catalog/catalog.js';
import type { ChatInput } from '../domain/chat.js';
import { noEligibleModel as noModelNow, promptTooLong, routeNotAllowed, routeNotServed } from '../domain/call-errors.js';
import { embeddingModelAsChat } from '../domain/embedding-errors.js';
import { defaultModelNotFound, invalidArgument, modelNotFound, type OrchestratorError, type FieldViolation } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import type { Plan } from './answer.js';
import type { CallContext } from './context.js';
import type { AccessControl } from './ports.js';
import type { ModelRef, RouteRequest } from './requests.js';
import { loadTokenizer } from './routing/complexity.js';
import { BREAKER_OPEN, NO_PROVIDER, TOO_SMALL, type RouteDecision, type Router, type ScoredModel } from './routing/router.js';
import { capabilitiesOf, isLackingReason, lackingReason, type Requirements, usableModels } from './capabilities.js';

export interface PlannerOptions {
  readonly catalog: Catalog;
  /** The embedding models' catalog, so a chat call naming one is told what it is. */
  readonly embeddings?: Pick<Catalog, 'find'> | undefined;
  readonly router: Router;
  readonly access: AccessControl | undefined;
  readonly defaults: { readonly model: string; readonly maxTokens: number };
  /** ATTEMPT_TIMEOUT_MS; 0: the deadline alone bounds each upstream call. */
  readonly attemptTimeoutMs: number;
  /** How many ranked models a routed request may try, best first. */
  readonly fallbackDepth: number;
  /** Milliseconds until a model's open breaker admits a probe; 0 when it is not open. */
  readonly coolDownLeftMs: (model: CatalogModel) => number;
  /** Told about every routed request and the model ranked first. */
  readonly onRouted: (profile: string, model: string) => void;
}

/**
 * Turns what a caller asked for into a Plan: names resolved against the catalog (the default
 * model for an empty name), default chains expanded, routes ranked, max_tokens checked per
 * model. Every refusal here is the caller's (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED).
 */
export class Planner {
  constructor(private readonly options: PlannerOptions) {}

  /** The ranking; the tokenizer is loaded on first use, off the first call's critical section. */
  async rank(route: RouteRequest, input: ChatInput, principal: Principal | undefined, streaming = false): Promise<RouteDecision> {
    await loadTokenizer();
    return this.options.router.rank({
      profile: route.profile,
      messages: input.messages,
      maxTokens: input.maxTokens ?? this.options.defaults.maxTokens,
      tooling: input.tooling,
      candidates: this.candidates(route.candidates),
      streaming,
      exclude: this.exclusionFor(capabilitiesOf(input), principal),
    });
  }

  /** A routed request's chain: the eligible models of the ranking, best first. */
  async routeChain(
    route: RouteRequest,
    input: ChatInput,
    ctx: CallContext,
    streaming = false,
  ): Promise<{ decision: RouteDecision; chain: ModelRef[] }> {
    const decision = await this.rank(route, input, ctx.principal, streaming);
    const eligible = decision.ranking.filter((r) => r.excluded === undefined);
    const first = eligible[0];
    if (!first) {
      throw noEligibleModel(decision, ctx.principal, (model) => this.candidateField(route, model), this.options.coolDownLeftMs);
    }
    this.options.onRouted(route.profile, first.model.id);
    return { decision, chain: eligible.slice(0, this.options.fallbackDepth).map((r) => ({ name: r.model.id, field: 'route' })) };
  }

  /**
   * Routing never picks a model that lacks what the request uses, nor one the caller's key may
   * not call: they stay in the ranking (so the answer explains the choice), excluded, with the reason.
   */
  private exclusionFor(required: Requirements, principal: Principal | undefined): (model: CatalogModel) => string | undefined {
    const access = this.options.access;
    return (model) =>
      lackingReason(model, required) ?? (access && principal && !access.allows(principal, model.id) ? NOT_ALLOWED_FOR_KEY : undefined);
  }

  /** Explicit lists are kept as given; a default chain drops models the caller's key may not call. */
  expand(primary: ModelRef, list: readonly ModelRef[], ctx: CallContext): ModelRef[] {
    if (list.length > 0) return [...list];
    // resolve() applies the default itself, so a deleted DEFAULT_MODEL is reported as such.
    const first = this.resolve([primary])[0];
    if (!first) return [];
    const access = this.options.access;
    return this.options.catalog
      .chainFrom(first)
      .filter((m, i) => i === 0 || !access || access.allows(ctx.principal, m.id))
      .map((m) => ({ name: m.id, field: primary.field }));
  }

  /**
   * max_tokens: an explicit value must fit every model (INVALID_ARGUMENT otherwise), except in a
   * fallback chain where it is capped per model; unset means the default, capped per model.
   */
  plan(allRefs: readonly ModelRef[], input: ChatInput, options: { capMaxTokens?: boolean } = {}): Plan {
    // Models that lack what the request uses (tools, images, a JSON Schema, top_p on a reasoning model) are skipped; none left is the caller's error.
    const resolved = this.resolve(allRefs);
    const taking = usableModels(
      resolved.map((model, i) => ({ model, ref: allRefs[i] ?? { name: model.id, field: 'model' } })),
      capabilitiesOf(input),
    );
    if (taking.violations.length > 0) throw invalidArgument(taking.violations);
    const models = taking.usable.map((p) => p.model);
    const refs = taking.usable.map((p) => p.ref);
    const violations: FieldViolation[] = [];
    const maxTokens = new Map<string, number>();
    for (const [index, model] of models.entries()) {
      const ref = refs[index];
      if (models.indexOf(model) !== index && ref) {
        violations.push({ field: ref.field, description: `${model.id} is listed more than once` });
      }
      const wanted = input.maxTokens ?? this.options.defaults.maxTokens;
      if (input.maxTokens !== undefined && wanted > model.maxOutputTokens && !options.capMaxTokens) {
        violations.push({
          field: 'max_tokens',
          description: `must be at most ${model.maxOutputTokens} for ${model.id} (got ${wanted})`,
        });
      }
      maxTokens.set(model.id, Math.min(wanted, model.maxOutputTokens));
    }
    if (violations.length > 0) throw invalidArgument(violations);
    const attemptTimeoutMs = this.options.attemptTimeoutMs || undefined;
    return {
      models,
      primary: resolved[0],
      messages: input.messages,
      temperature: input.temperature,
      sampling: input.sampling,
      tooling: input.tooling,
      maxTokens,
      attemptTimeoutMs,
    };
  }

  /**
   * A route's candidates, each once: a model named twice (by its id and an alias, say) is the
   * caller's error, refused before ranking so a Chat and a RankModels of the same request agree.
   */
  private candidates(refs: readonly ModelRef[]): CatalogModel[] {
    const models = this.resolve(refs);
    const violations = models.flatMap((model, i) =>
      models.indexOf(model) !== i ? [{ field: refs[i]?.field ?? 'candidates', description: `${model.id} is listed more than once` }] : [],
    );
    if (violations.length > 0) throw invalidArgument(violations);
    return models;
  }

  /** The field that named a candidate; the candidates list itself for a route over every model. */
  private candidateField(route: RouteRequest, model: CatalogModel): string {
    return route.candidates.find((ref) => this.options.catalog.find(ref.name)?.id === model.id)?.field ?? 'route.candidates';
  }

  private withDefault(ref: ModelRef): ModelRef {
    return ref.name.trim() === '' ? { name: this.options.defaults.model, field: ref.field } : ref;
  }

  private resolve(refs: readonly ModelRef[]): CatalogModel[] {
    const models: CatalogModel[] = [];
    for (const ref of refs) {
      const resolved = this.withDefault(ref);
      const model = this.options.catalog.find(resolved.name);
      if (!model) {
        const embedding = this.options.embeddings?.find(resolved.name);
        if (embedding) throw embeddingModelAsChat(embedding.id, resolved.field);
        throw resolved === ref ? modelNotFound(ref.name, ref.field) : defaultModelNotFound(resolved.name, resolved.field);
      }
      models.push(model);
    }
    return models;
  }
}

const NOT_ALLOWED_FOR_KEY = 'not allowed for this API key';

function noEligibleModel(
  decision: RouteDecision,
  principal: Principal | undefined,
  fieldOf: (model: CatalogModel) => string,
  coolDownLeftMs: (model: CatalogModel) => number,
): OrchestratorError {
  const reasons = decision.ranking.map((r) => `${r.model.id}: ${r.excluded ?? 'eligible'}`).join('; ');
  const denied = decision.ranking.filter((r) => r.excluded === NOT_ALLOWED_FOR_KEY).map((r) => r.model.id);
  // Nothing the key may call could take it: a permission problem, not a passing outage.
  if (principal && denied.length > 0 && decision.ranking.every((r) => r.excluded === NOT_ALLOWED_FOR_KEY || r.excluded === NO_PROVIDER)) {
    return routeNotAllowed(principal.name, denied);
  }
  // The key's models alone, as if they were the only candidates: what the others could take does not matter.
  const callable = decision.ranking.filter((r) => r.excluded !== NOT_ALLOWED_FOR_KEY);
  // Our configuration, not an outage: UNAVAILABLE would have clients retry what cannot succeed.
  if (callable.length > 0 && callable.every((r) => r.excluded === NO_PROVIDER)) {
    return routeNotServed(callable.map((r) => ({ id: r.model.id, provider: r.model.provider })));
  }
  const tooLong = (r: ScoredModel): boolean => r.excluded?.startsWith(TOO_SMALL) ?? false;
  if (callable.length > 0 && callable.every(tooLong)) {
    return promptTooLong(decision.promptTokens, callable.map((r) => `${r.model.id}: ${r.excluded}`).join('; '));
  }
  // Excluded only for what the request itself asks (a capability, its size): the same request
  // fails the same way however often it is sent, so it is the caller's to change, as when it
  // names such a model alone.
  if (callable.length > 0 && callable.every((r) => tooLong(r) || isLackingReason(r.excluded))) {
    return invalidArgument(
      callable.map((r) => ({
        field: fieldOf(r.model),
        description: tooLong(r)
          ? `${r.model.id}: ${r.excluded}`
          : `${r.model.id} ${r.excluded}, which this request uses: choose a model that does`,
      })),
    );
  }
  return noModelNow(reasons, soonestCoolDown(callable, coolDownLeftMs));
}

/**
 * An open breaker is a model's exclusion only when nothing lasting excludes it (router.ts): once
 * the first such model admits a probe the route can take the call again, the same wait a
 * fallback chain over those models gives. The other candidates' exclusions (no provider, the
 * request's size or what it uses) would keep them out however long the caller waited; with no
 * open breaker no wait is known, and none is given.
 */
function soonestCoolDown(callable: readonly ScoredModel[], coolDownLeftMs: (model: CatalogModel) => number): number | undefined {
  const left = callable
    .filter((r) => r.excluded === BREAKER_OPEN)
    .map((r) => coolDownLeftMs(r.model))
    .filter((ms) => ms > 0);
  return left.length > 0 ? Math.min(...left) : undefined;
}
