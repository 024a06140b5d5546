import type { FinishReason, TokenUsage } from '../domain/chat.js';
import type { OrchestratorError } from '../domain/errors.js';
import { toolCallChars } from '../domain/tools.js';
import type { ProviderStreamEvent } from '../providers/types.js';
import { usageSoFar } from './attempt-errors.js';
import { checkUsage, type UsageRequest, type UsageSource } from './usage-check.js';
import { extend } from '../domain/extend.js';

type Charged = { readonly usage: TokenUsage; readonly estimated: boolean; readonly finishReason?: FinishReason | undefined };

/**
 * The usage of one streamed attempt as it goes: the size of the answer received, the prompt's
 * usage if the upstream reported it as it began (ProviderRequest.onPromptUsage), the answer's if
 * it reported that before the end (onAnswerUsage), and the usage
 * its end reported, checked. Once the stream is over, `charged` is what the attempt costs: the
 * end's usage, or, for a stream that never got there, usageSoFar's.
 */
export class StreamUsage {
  #generatedChars = 0;
  #reportedPrompt: TokenUsage | undefined;
  #reportedAnswer: TokenUsage | undefined;
  #end: Charged | undefined;

  constructor(
    private readonly request: UsageRequest,
    private readonly source: UsageSource,
  ) {}

  readonly onPromptUsage = (usage: TokenUsage): void => {
    this.#reportedPrompt = usage;
  };

  readonly onAnswerUsage = (usage: TokenUsage): void => {
    this.#reportedAnswer = usage;
  };

  /** Thinking the upstream streamed and bills as output, though it is not relayed: counted as generated. */
  readonly onThought = (chars: number): void => {
    this.#generatedChars += chars;
  };

  /** The stream's end arrived, with its usage. */
  get ended(): boolean {
    return this.#end !== undefined;
  }

  /** Counts a read's deltas; its end goes on with the usage the check took. */
  count(events: readonly ProviderStreamEvent[]): readonly ProviderStreamEvent[] {
    let relayed = events;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.type === 'delta') {
        this.#generatedChars += event.content.length + (event.toolCall ? toolCallChars(event.toolCall) : 0) + (event.refusal?.length ?? 0);
      } else {
        const checked = checkUsage(event.usage, this.request, this.#generatedChars, this.source);
        const estimated = checked.refused !== undefined || event.usageEstimated === true;
        this.#end = { usage: checked.usage, estimated, finishReason: event.finishReason };
        relayed = relayed.with(i, extend(event, { usage: checked.usage }));
      }
    }
    return relayed;
  }

  charged(aborted: boolean, error: OrchestratorError | undefined): Charged {
    if (this.#end) return this.#end;
    return usageSoFar(this.request, {
      generatedChars: this.#generatedChars,
      aborted,
      error,
      reportedPrompt: this.#reportedPrompt,
      reportedAnswer: this.#reportedAnswer,
      source: this.source,
    });
  }
}
