import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AnswerEnding, AnswerPlan } from './answer-plan.js';
import { completionBody, usageOf, type CompletionIdentity, type SimFinishReason } from './chat-wire.js';
import { sendJson } from './http-io.js';
import type { MutableRecord } from './records.js';
import type { ResponseWatch } from './response-watch.js';
import { sleep } from './timing.js';

export interface JsonAnswer {
  readonly res: ServerResponse;
  readonly plan: AnswerPlan;
  readonly identity: CompletionIdentity;
  readonly record: MutableRecord;
  readonly watch: ResponseWatch;
}

/** What a non-streamed answer says, before any API's wire shape. */
export interface JsonAnswerContent {
  readonly text: string;
  /** null only for the 'truncate' fault. */
  readonly finishReason: SimFinishReason | null;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** A non-streamed answer in any API's shape: `render` builds the body, `headers` go with it. */
export interface JsonAnswerWire {
  readonly res: ServerResponse;
  readonly plan: AnswerPlan;
  readonly record: MutableRecord;
  readonly watch: ResponseWatch;
  readonly headers: OutgoingHttpHeaders;
  readonly render: (content: JsonAnswerContent) => unknown;
}

/** An OpenAI chat completion body. */
export async function respondJson(answer: JsonAnswer): Promise<void> {
  const { identity } = answer;
  await respondJsonWire({
    ...answer,
    headers: { 'x-request-id': `sim-${answer.record.id}` },
    render: (content) =>
      completionBody(identity, {
        content: content.text,
        finishReason: content.finishReason,
        usage: usageOf(content.promptTokens, content.completionTokens, answer.plan.reasoningTokens),
        toolCalls: answer.plan.toolCalls,
        refusal: answer.plan.refusal,
      }),
  });
}

/**
 * A non-streamed answer: one wait for the whole generation (first token plus every token
 * at the model's rate), then one body. No per-token timers.
 */
export async function respondJsonWire(answer: JsonAnswerWire): Promise<void> {
  const { res, plan, record, watch, headers } = answer;
  const sent = plan.ending === 'truncate' ? plan.tokensBeforeFault : plan.tokens.length;
  const waited = await sleep(plan.firstByteDelayMs + sent * plan.tokenIntervalMs, watch.signal);
  if (!waited) return;
  const body = answer.render({
    text: plan.tokens.slice(0, sent).join(''),
    finishReason: plan.ending === 'truncate' ? null : plan.finishReason,
    promptTokens: plan.promptTokens,
    completionTokens: sent,
  });
  if (plan.ending === 'normal' || plan.ending === 'truncate') record.tokensSent = sent;
  sendJsonEnding(res, body, headers, plan.ending, watch);
}

/** A 200 JSON body as an answer's ending has it: whole (a truncated answer's body says so itself), or broken. */
export function sendJsonEnding(
  res: ServerResponse,
  body: unknown,
  headers: OutgoingHttpHeaders,
  ending: AnswerEnding,
  watch: ResponseWatch,
): void {
  switch (ending) {
    case 'normal':
    case 'truncate':
      sendJson(res, 200, body, headers);
      return;
    case 'malformed': {
      // Looks like a real answer until the parser hits the missing rest.
      const broken = JSON.stringify(body).slice(0, 60);
      res.writeHead(200, {
        ...headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(broken),
      });
      res.end(broken);
      return;
    }
    case 'cut': {
      // The promised content-length is never met: the client sees the connection die mid-body.
      const full = Buffer.from(JSON.stringify(body));
      res.writeHead(200, {
        ...headers,
        'content-type': 'application/json',
        'content-length': full.length,
      });
      watch.cut(res, full.subarray(0, Math.floor(full.length / 2)));
      return;
    }
  }
}
