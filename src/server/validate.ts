import {
  checkDefaultMessage,
  checkSampling,
  checkTags,
  type ChatInput,
  type ChatMessage,
  type RequestTags,
  type Sampling,
} from '../domain/chat.js';
import { characterCount, longerThan } from '../domain/characters.js';
import { checkConversation, DEFAULT_IMAGE_MAX_BYTES, messagesToCheck } from '../domain/conversation.js';
import { checkPromptCacheMarkers, type MarkerFields } from '../domain/prompt-cache.js';
import type { ReasoningEffort as Effort } from '../domain/reasoning-models.js';
import { decodeMessage, decodeTooling } from './decode-tooling.js';
import type { ResponseFormat, ToolOptions } from '../gen/orchestrator/v1/chat.js';
import { invalidArgument, type FieldViolation } from '../domain/errors.js';
import type { ModelRef, RouteRequest, RoutingProfileName, SizedMessage } from '../engine/index.js';
import { ReasoningEffort, RoutingProfile, type Message, type RouteTarget, type SamplingOptions } from '../gen/orchestrator/v1/common.js';
import type { RankModelsRequest } from '../gen/orchestrator/v1/models.js';
import { extend } from '../domain/extend.js';
import { modelNameTooLong } from '../domain/model-names.js';

/** Where a gRPC request holds its prompt cache markers. */
const MARKER_FIELDS: MarkerFields = {
  message: (i) => `messages[${i}].cache`,
  part: (i, j) => `messages[${i}].parts[${j}].cache`,
  tool: (k) => `tooling.tools[${k}].cache`,
};

/** The fields every chat-like request shares (ChatRequest, StreamChatRequest, RaceRequest, ...). */
export interface ConversationFields {
  readonly model: string;
  readonly messages: readonly Message[];
  readonly prompt: string;
  readonly temperature?: number | undefined;
  readonly maxTokens?: number | undefined;
  readonly sampling?: SamplingOptions | undefined;
  readonly tooling?: ToolOptions | undefined;
  readonly responseFormat?: ResponseFormat | undefined;
}

export interface ValidationLimits {
  readonly maxContentChars: number;
  readonly maxModelsPerCall: number;
  readonly defaultTemperature: number;
  /** Largest image as bytes (IMAGE_MAX_BYTES); default DEFAULT_IMAGE_MAX_BYTES. */
  readonly maxImageBytes?: number;
}

const PROFILES: ReadonlyMap<RoutingProfile, RoutingProfileName> = new Map([
  [RoutingProfile.ROUTING_PROFILE_UNSPECIFIED, 'balanced'],
  [RoutingProfile.ROUTING_PROFILE_BALANCED, 'balanced'],
  [RoutingProfile.ROUTING_PROFILE_QUALITY, 'quality'],
  [RoutingProfile.ROUTING_PROFILE_SPEED, 'speed'],
  [RoutingProfile.ROUTING_PROFILE_BUDGET, 'budget'],
  [RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT, 'long_context'],
]);

/** UNSPECIFIED is absent: the model's default. */
const EFFORTS: ReadonlyMap<ReasoningEffort, Effort | undefined> = new Map([
  [ReasoningEffort.REASONING_EFFORT_UNSPECIFIED, undefined],
  [ReasoningEffort.REASONING_EFFORT_NONE, 'none'],
  [ReasoningEffort.REASONING_EFFORT_MINIMAL, 'minimal'],
  [ReasoningEffort.REASONING_EFFORT_LOW, 'low'],
  [ReasoningEffort.REASONING_EFFORT_MEDIUM, 'medium'],
  [ReasoningEffort.REASONING_EFFORT_HIGH, 'high'],
  [ReasoningEffort.REASONING_EFFORT_XHIGH, 'xhigh'],
  [ReasoningEffort.REASONING_EFFORT_MAX, 'max'],
]);

/**
 * Checks a request (at least one message, roles set, content present and
 * bounded, temperature 0..2, max_tokens >= 1) and collects every violation, so the caller
 * learns everything that is wrong in one round trip.
 */
export class RequestValidator {
  private readonly violations: FieldViolation[] = [];

  constructor(private readonly limits: ValidationLimits) {}

  conversation(req: ConversationFields): ChatInput {
    const messages = this.messages(req);
    if (req.temperature !== undefined && !(req.temperature >= 0 && req.temperature <= 2)) {
      this.add('temperature', `must be between 0 and 2 (got ${req.temperature})`);
    }
    if (req.maxTokens !== undefined && req.maxTokens < 1) {
      this.add('max_tokens', `must be at least 1 (got ${req.maxTokens})`);
    }
    const sampling = req.sampling ? this.sampling(req.sampling) : undefined;
    const tooling = decodeTooling(req.tooling, req.responseFormat, (field, description) => this.add(field, description));
    this.addAll(checkPromptCacheMarkers(messages, tooling, MARKER_FIELDS));
    return {
      messages,
      temperature: req.temperature ?? this.limits.defaultTemperature,
      maxTokens: req.maxTokens,
      ...(sampling ? { sampling } : {}),
      ...(tooling ? { tooling } : {}),
    };
  }

  /** The sampling fields, checked against the ranges the providers document. */
  sampling(req: SamplingOptions, field = 'sampling'): Sampling | undefined {
    const { sampling, violations } = checkSampling(
      extend(req, { reasoningEffort: EFFORTS.get(req.reasoningEffort) }),
      (name) => `${field}.${name}`,
    );
    this.addAll(violations);
    if (!EFFORTS.has(req.reasoningEffort)) {
      this.add(
        `${field}.reasoning_effort`,
        `must be one of REASONING_EFFORT_UNSPECIFIED, NONE, MINIMAL, LOW, MEDIUM, HIGH, XHIGH, MAX (got ${req.reasoningEffort})`,
      );
    }
    return sampling;
  }

  /** Request tags: bounded in keys and size (TAG_LIMITS); undefined when there are none. */
  tags(tags: Readonly<Record<string, string>> | undefined, field = 'metadata.tags'): RequestTags | undefined {
    const checked = checkTags(tags, field);
    this.addAll(checked.violations);
    return checked.tags;
  }

  /** Fallback's default_message, as it came (unset: the configured one). */
  defaultMessage(text: string | undefined): string | undefined {
    this.addAll(checkDefaultMessage(text, 'default_message', this.limits.maxContentChars));
    return text;
  }

  model(name: string, field = 'model'): ModelRef {
    const tooLong = modelNameTooLong(name);
    if (tooLong) this.add(field, tooLong);
    return { name, field };
  }

  models(names: readonly string[], field = 'models'): ModelRef[] {
    if (names.length > this.limits.maxModelsPerCall) {
      this.add(field, `at most ${this.limits.maxModelsPerCall} models per call (got ${names.length})`);
    }
    return names.map((name, i) => {
      if (name.trim() === '') this.add(`${field}[${i}]`, 'must not be empty');
      return this.model(name, `${field}[${i}]`);
    });
  }

  profile(value: RoutingProfile, field: string): RoutingProfileName {
    const name = PROFILES.get(value);
    if (!name) this.add(field, 'must be one of QUALITY, BALANCED, SPEED, BUDGET, LONG_CONTEXT');
    return name ?? 'balanced';
  }

  /** A route target; `model` must then be empty. */
  route(route: RouteTarget | undefined, model: string, field = 'route'): RouteRequest | undefined {
    if (!route) return undefined;
    if (model !== '') this.add('model', 'leave empty when route is set: the route picks the model');
    return { profile: this.profile(route.profile, `${field}.profile`), candidates: this.models(route.candidates, `${field}.candidates`) };
  }

  /**
   * RankModels: the prompt may be as long as the request may be (classification reads a bounded
   * sample of it), and `prompt_tokens` states the size for callers that do not send the text.
   */
  rankRequest(req: RankModelsRequest): { route: RouteRequest; input: ChatInput } {
    const route = { profile: this.profile(req.profile, 'profile'), candidates: this.models(req.candidates, 'candidates') };
    this.positive('max_tokens', req.maxTokens);
    this.positive('prompt_tokens', req.promptTokens);
    this.check();
    // An empty prompt ranks for a short generic one.
    const message: SizedMessage = {
      role: 'user',
      content: req.prompt || 'Hello!',
      ...(req.promptTokens ? { promptTokens: req.promptTokens } : {}),
    };
    return { route, input: { messages: [message], temperature: 0, maxTokens: req.maxTokens } };
  }

  positive(field: string, value: number | undefined): void {
    if (value !== undefined && !(value >= 1)) this.add(field, `must be at least 1 (got ${value})`);
  }

  nonNegative(field: string, value: number | undefined): void {
    if (value !== undefined && !(value >= 0)) this.add(field, `must not be negative (got ${value})`);
  }

  add(field: string, description: string): void {
    this.violations.push({ field, description });
  }

  /** One by one: spread into push's arguments, a list of a few hundred thousand overflows the stack. */
  private addAll(violations: readonly FieldViolation[]): void {
    for (const v of violations) this.violations.push(v);
  }

  /** Throws INVALID_ARGUMENT with every violation found so far. */
  check(): void {
    if (this.violations.length > 0) throw invalidArgument(this.violations);
  }

  private messages(req: ConversationFields): ChatMessage[] {
    const hasPrompt = req.prompt.length > 0;
    if (hasPrompt && req.messages.length > 0) {
      this.add('prompt', 'set either prompt or messages, not both');
      return [];
    }
    if (hasPrompt) {
      this.content('prompt', req.prompt);
      return [{ role: 'user', content: req.prompt }];
    }
    if (req.messages.length === 0) {
      this.add('messages', 'at least one message is required (or set prompt)');
      return [];
    }
    const { checked, violation } = messagesToCheck(req.messages, 'messages', (m) => ({
      parts: m.parts.length,
      toolCalls: m.toolCalls.length,
    }));
    if (violation) this.add(violation.field, violation.description);
    const messages = checked.map((message, i) => {
      const decoded = decodeMessage(message, `messages[${i}]`, (field, description) => this.add(field, description));
      // Parts are checked one by one (their text together within the limit, as the HTTP door
      // counts it); an assistant message that only calls tools has no text.
      if (decoded.parts) {
        if (longerThan(decoded.content, this.limits.maxContentChars)) {
          const chars = characterCount(decoded.content);
          this.add(`messages[${i}].parts`, `text must be at most ${this.limits.maxContentChars} characters in all (got ${chars})`);
        }
      } else if (!(decoded.role === 'assistant' && decoded.toolCalls && message.content === '')) {
        // A tool's result may be empty (a function that returns nothing), as OpenAI takes it.
        this.content(`messages[${i}].content`, message.content, decoded.role === 'tool');
      }
      return decoded;
    });
    const limits = { maxImageBytes: this.limits.maxImageBytes ?? DEFAULT_IMAGE_MAX_BYTES, maxContentChars: this.limits.maxContentChars };
    this.addAll(checkConversation(messages, (i) => `messages[${i}]`, limits));
    return messages;
  }

  private content(field: string, content: string, mayBeEmpty = false): void {
    if (!mayBeEmpty && content.trim() === '') this.add(field, 'must not be empty or only whitespace');
    else if (longerThan(content, this.limits.maxContentChars)) {
      this.add(field, `must be at most ${this.limits.maxContentChars} characters (got ${characterCount(content)})`);
    }
  }
}
