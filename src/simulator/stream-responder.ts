import type { ServerResponse } from 'node:http';
import type { AnswerPlan } from './answer-plan.js';
import { ChunkEncoder, SSE_DONE, usageOf, type CompletionIdentity } from './chat-wire.js';
import type { MutableRecord } from './records.js';
import type { ResponseWatch } from './response-watch.js';
import { drained, sleep } from './timing.js';

export interface StreamAnswer {
  readonly res: ServerResponse;
  readonly plan: AnswerPlan;
  readonly identity: CompletionIdentity;
  readonly record: MutableRecord;
  readonly watch: ResponseWatch;
  readonly includeUsage: boolean;
}

/** Caps one write so even an instant stream yields to backpressure between batches. */
const MAX_CHUNKS_PER_WRITE = 64;

/** Turns one token into its wire event; each API's stream encoder is one. */
export interface TokenEncoder {
  token(text: string): string;
}

/** What the token writer needs of a streamed answer, whatever the API's wire format. */
export type TokenStream = Pick<StreamAnswer, 'res' | 'plan' | 'record' | 'watch'>;

/**
 * Writes token chunks on schedule: token i is due at start + i * interval. Every token
 * already due goes out in one write, so one timer serves many tokens when the interval is
 * below timer resolution, and none is used at interval 0. Resolves false when the response
 * closed first.
 */
export async function writeTokens(answer: TokenStream, encoder: TokenEncoder, count: number): Promise<boolean> {
  const { res, plan, record, watch } = answer;
  const interval = plan.tokenIntervalMs;
  const start = performance.now();
  let next = 0;
  while (next < count) {
    if (watch.signal.aborted) return false;
    const elapsed = performance.now() - start;
    const due = interval <= 0 ? count : Math.min(count, Math.floor(elapsed / interval) + 1);
    if (due <= next) {
      if (!(await sleep(start + next * interval - performance.now(), watch.signal))) return false;
      continue;
    }
    const upTo = Math.min(due, next + MAX_CHUNKS_PER_WRITE);
    let batch = '';
    for (let i = next; i < upTo; i++) batch += encoder.token(plan.tokens[i] ?? '');
    const writable = res.write(batch);
    next = upTo;
    record.tokensSent = next;
    if (!writable && !(await drained(res, watch.signal))) return false;
  }
  return !watch.signal.aborted;
}

/** Chunks already encoded. */
const RAW: TokenEncoder = { token: (chunk) => chunk };

export async function respondStream(answer: StreamAnswer): Promise<void> {
  const { res, plan, identity, record, watch } = answer;
  if (!(await sleep(plan.firstByteDelayMs, watch.signal))) return;
  const encoder = new ChunkEncoder(identity);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': `sim-${record.id}`,
  });
  res.write(plan.refusal ? encoder.refusalRole() : encoder.role());
  // Tool calls go out as pieces: each call's first chunk (id, name), then its argument fragments.
  const chunks =
    plan.toolCalls?.flatMap((call, i) => [
      encoder.toolCall(i, call, ''),
      ...call.fragments.map((f) => encoder.toolCall(i, undefined, f)),
    ]) ?? (plan.refusal ? plan.tokens.map((t) => encoder.refusal(t)) : undefined);
  const stream = chunks ? { ...answer, plan: { ...plan, tokens: chunks } } : answer;
  const count = plan.ending === 'normal' ? stream.plan.tokens.length : plan.tokensBeforeFault;
  if (!(await writeTokens(stream, chunks ? RAW : encoder, count))) return;
  switch (plan.ending) {
    case 'normal': {
      let trailer = encoder.finish(plan.finishReason);
      if (answer.includeUsage) trailer += encoder.usage(usageOf(plan.promptTokens, plan.tokens.length, plan.reasoningTokens));
      res.end(trailer + SSE_DONE);
      return;
    }
    case 'truncate':
      // A clean end of stream with no finish_reason: only the client can notice the loss.
      res.end(SSE_DONE);
      return;
    case 'malformed':
      res.end('data: {not json\n\n');
      return;
    case 'cut':
      watch.cut(res, '');
      return;
  }
}
