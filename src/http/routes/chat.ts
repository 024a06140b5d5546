import type { FastifyInstance } from 'fastify';
import type { Engine } from '../../engine/index.js';
import { callRoute, routeHandler, type HttpCallDeps, type RouteInfo } from '../call.js';
import { inRequestFields, parseChatRequest, type ChatLimits } from '../chat-request.js';
import { encodeCompletion } from '../encode.js';
import { completeChat, streamChat } from '../engine-calls.js';
import { CHAT_COMPLETIONS_PATH, CHAT_COMPLETIONS_STREAM_PATH } from './chat-paths.js';
import { relayStream } from '../sse.js';

export function chatRoutes(app: FastifyInstance, deps: HttpCallDeps, engine: Engine, limits: ChatLimits): void {
  const unaryRoute: RouteInfo = { path: CHAT_COMPLETIONS_PATH, kind: 'unary' };
  const unary = routeHandler(deps, unaryRoute, async (request, _reply, ctx) => {
    const req = parseChatRequest(request.body, request.headers, limits);
    if (req.tags) ctx.tag?.(req.tags);
    try {
      return { jsonText: encodeCompletion(await completeChat(engine, req, ctx), ctx.requestId) };
    } catch (err) {
      throw inRequestFields(err, req);
    }
  });
  const streamed = routeHandler(deps, { path: CHAT_COMPLETIONS_STREAM_PATH, kind: 'server_stream' }, async (request, reply, ctx) => {
    const req = parseChatRequest(request.body, request.headers, limits);
    if (req.tags) ctx.tag?.(req.tags);
    // The plan's refusals come before the first chunk, so they leave as a plain HTTP error from here.
    try {
      return await relayStream(reply, ctx, streamChat(engine, req, ctx), req.includeUsage);
    } catch (err) {
      throw inRequestFields(err, req);
    }
  });
  // Stats and metrics tell a streamed completion from a unary one, as they tell StreamChat from Chat.
  // A body refused before this runs cannot say whether it asked for a stream: it counts as unary.
  app.post('/v1/chat/completions', callRoute(unaryRoute), (request, reply) =>
    isStreamed(request.body) ? streamed(request, reply) : unary(request, reply),
  );
}

function isStreamed(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true;
}
