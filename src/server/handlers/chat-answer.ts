import type { Engine } from '../../engine/engine.js';
import type { CallContext } from '../../engine/context.js';
import type { ChatRequest, ChatResponse } from '../../gen/orchestrator/v1/chat.js';
import { encodeAnswer, encodeDecision } from '../encode.js';
import { RequestValidator, type ValidationLimits } from '../validate.js';

/** A Chat request, one model or routed; shared by Chat and each Batch item. */
export async function answerChat(engine: Engine, limits: ValidationLimits, req: ChatRequest, ctx: CallContext): Promise<ChatResponse> {
  const v = new RequestValidator(limits);
  const input = v.conversation(req);
  const model = v.model(req.model);
  const route = v.route(req.route, req.model);
  v.check();
  if (route) {
    const answer = await engine.chatRouted(route, input, ctx);
    return { ...encodeAnswer(answer, ctx.requestId), routeDecision: encodeDecision(answer.decision) };
  }
  return encodeAnswer(await engine.chat(model, input, ctx), ctx.requestId);
}
