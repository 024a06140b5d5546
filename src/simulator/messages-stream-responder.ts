import type { ServerResponse } from 'node:http';
import type { AnswerPlan } from './answer-plan.js';
import { MessageEventEncoder, stopOf, type MessageIdentity } from './messages-wire.js';
import type { PromptCacheUsage } from './prompt-cache.js';
import type { MutableRecord } from './records.js';
import type { ResponseWatch } from './response-watch.js';
import { writeTokens, type TokenEncoder } from './stream-responder.js';
import { sleep } from './timing.js';

/** Events already encoded. */
const RAW: TokenEncoder = { token: (chunk) => chunk };

export interface MessageStreamAnswer {
  readonly res: ServerResponse;
  readonly plan: AnswerPlan;
  readonly identity: MessageIdentity;
  readonly record: MutableRecord;
  readonly watch: ResponseWatch;
  /** How the prompt divides between the prompt cache and the input. */
  readonly cache: PromptCacheUsage;
}

/**
 * Streams one message the way the Anthropic API does: message_start, content_block_start,
 * ping, one content_block_delta per token, content_block_stop, message_delta, message_stop.
 * Token timing and backpressure are the OpenAI stream's (`writeTokens`).
 */
export async function respondMessageStream(answer: MessageStreamAnswer): Promise<void> {
  const { res, plan, identity, record, watch, cache } = answer;
  if (!(await sleep(plan.firstByteDelayMs, watch.signal))) return;
  const encoder = new MessageEventEncoder(identity);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': `req_sim_${record.id}`,
  });
  const calls = plan.toolCalls;
  res.write(encoder.head(plan.promptTokens, !calls, cache));
  // Tool calls go out as their blocks' events, already encoded, written on the tokens' schedule.
  const events = calls?.flatMap((call, i) => encoder.toolUse(i, call));
  const stream = events ? { ...answer, plan: { ...plan, tokens: events } } : answer;
  const count = plan.ending === 'normal' ? stream.plan.tokens.length : plan.tokensBeforeFault;
  if (!(await writeTokens(stream, events ? RAW : encoder, count))) return;
  switch (plan.ending) {
    case 'normal':
      res.end(encoder.finish(stopOf(plan), plan.tokens.length, !calls));
      return;
    case 'truncate':
      // A clean end of stream with no message_delta or message_stop: only the client can tell.
      res.end();
      return;
    case 'malformed':
      res.end(encoder.malformed());
      return;
    case 'cut':
      watch.cut(res, '');
      return;
  }
}
