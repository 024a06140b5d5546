import type { ServerResponse } from 'node:http';
import type { AnswerPlan } from './answer-plan.js';
import { completionBody, usageOf, type CompletionIdentity } from './chat-wire.js';
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

/**
 * A non-streamed answer: one wait for the whole generation (first token plus every token
 * at the model's rate), then one body. No per-token timers.
 */
export async function respondJson(answer: JsonAnswer): Promise<void> {
  const { res, plan, identity, record, watch } = answer;
  const sent = plan.ending === 'truncate' ? plan.tokensBeforeFault : plan.tokens.length;
  const waited = await sleep(plan.firstByteDelayMs + sent * plan.tokenIntervalMs, watch.signal);
  if (!waited) return;
  const headers = { 'x-request-id': `sim-${record.id}` };
  const body = completionBody(identity, {
    content: plan.tokens.slice(0, sent).join(''),
    finishReason: plan.ending === 'truncate' ? null : plan.finishReason,
    usage: usageOf(plan.promptTokens, sent),
  });
  switch (plan.ending) {
    case 'normal':
    case 'truncate':
      record.tokensSent = sent;
      sendJson(res, 200, body, headers);
      return;
    case 'malformed': {
      // Looks like a real completion until the parser hits the missing rest.
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
