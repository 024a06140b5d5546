import type * as grpc from '@grpc/grpc-js';
import {
  ChatRequest,
  ChatResponse,
  FallbackRequest,
  FallbackResponse,
  RaceRequest,
  RaceResponse,
  StreamChatRequest,
  StreamChatResponse,
} from '../gen/orchestrator/v1/chat.js';
import { ListModelsRequest, ListModelsResponse } from '../gen/orchestrator/v1/models.js';
import { GetStatsRequest, GetStatsResponse } from '../gen/orchestrator/v1/stats.js';
import type { CliOptions } from './args.js';
import { unary, type Connection } from './connection.js';
import { answerSummary, attemptLines, modelsTable, statsText } from './format.js';

/** Where a command writes: the answer (stdout), the summary (stderr), and the call to cancel. */
export interface Io {
  out(text: string): void;
  info(text: string): void;
  track(call: grpc.Call): void;
}

/** Fails the command when a stream ends without its `completed` event (never a full answer). */
export class IncompleteStreamError extends Error {
  override readonly name = 'IncompleteStreamError';
}

export async function runCommand(conn: Connection, options: CliOptions, io: Io): Promise<void> {
  switch (options.command) {
    case 'chat':
      return chat(conn, options, io);
    case 'stream':
      return stream(conn, options, io);
    case 'race':
      return race(conn, options, io);
    case 'fallback':
      return fallback(conn, options, io);
    case 'models':
      return models(conn, options, io);
    case 'stats':
      return stats(conn, options, io);
  }
}

/** The fields every chat-like request shares; unset optionals stay unset so server defaults apply. */
function common(options: CliOptions): { model: string; prompt: string; temperature?: number; maxTokens?: number } {
  return {
    model: options.model,
    prompt: options.prompt,
    ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
    ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
  };
}

function route(options: CliOptions): Pick<ChatRequest, 'route'> {
  return options.route === undefined ? {} : { route: { profile: options.route, candidates: [...options.models] } };
}

async function chat(conn: Connection, options: CliOptions, io: Io): Promise<void> {
  // Every request starts from the generated defaults, so fields added to the proto stay unset.
  const request: ChatRequest = { ...ChatRequest.fromJSON({}), ...common(options), ...route(options) };
  const response = await unary<ChatResponse>((cb) => conn.chat.chat(request, conn.metadata(), conn.callOptions(), cb), io.track);
  if (options.json) return io.out(json(ChatResponse.toJSON(response)));
  io.out(`${answerText(response)}\n`);
  if (!options.quiet) io.info(answerSummary(response));
}

async function race(conn: Connection, options: CliOptions, io: Io): Promise<void> {
  const request: RaceRequest = {
    ...RaceRequest.fromJSON({}),
    ...common(options),
    models: [...options.models],
    ...(options.hedgeMs === undefined ? {} : { hedgeDelayMs: options.hedgeMs }),
  };
  const response = await unary<RaceResponse>((cb) => conn.chat.race(request, conn.metadata(), conn.callOptions(), cb), io.track);
  if (options.json) return io.out(json(RaceResponse.toJSON(response)));
  io.out(`${answerText(response)}\n`);
  if (!options.quiet) io.info(answerSummary(response, { label: 'winner' }));
}

async function fallback(conn: Connection, options: CliOptions, io: Io): Promise<void> {
  const request: FallbackRequest = {
    ...FallbackRequest.fromJSON({}),
    ...common(options),
    models: [...options.models],
    disableDefaultMessage: options.noDefaultMessage,
  };
  const response = await unary<FallbackResponse>((cb) => conn.chat.fallback(request, conn.metadata(), conn.callOptions(), cb), io.track);
  if (options.json) return io.out(json(FallbackResponse.toJSON(response)));
  io.out(`${answerText(response)}\n`);
  if (options.quiet) return;
  if (response.isDefaultMessage) {
    // Not a model's answer: every model of the chain failed.
    const lines = ['default message: every model failed', ...attemptLines(response.attempts), `request id: ${response.requestId}`];
    io.info(`${lines.join('\n')}\n`);
    return;
  }
  io.info(answerSummary(response, { label: 'answered by', extra: [`fallback triggered: ${response.fallbackTriggered ? 'yes' : 'no'}`] }));
}

/** Tokens go to stdout the moment they arrive; the summary follows `completed`. */
async function stream(conn: Connection, options: CliOptions, io: Io): Promise<void> {
  const request: StreamChatRequest = {
    ...StreamChatRequest.fromJSON({}),
    ...common(options),
    strategy: options.strategy,
    // With --route the models are the candidates; otherwise the chain or the racers.
    models: options.route === undefined ? [...options.models] : [],
    ...(options.hedgeMs === undefined ? {} : { hedgeDelayMs: options.hedgeMs }),
    ...route(options),
  };
  const call = conn.chat.streamChat(request, conn.metadata(), conn.callOptions());
  io.track(call);
  let completed = false;
  let refused = false;
  for await (const message of call as AsyncIterable<StreamChatResponse>) {
    if (options.json) {
      io.out(`${JSON.stringify(StreamChatResponse.toJSON(message))}\n`);
      if (message.event?.$case === 'completed') completed = true;
      continue;
    }
    const event = message.event;
    switch (event?.$case) {
      case 'started':
        if (!options.quiet) io.info(`started: ${event.started.model} (${event.started.provider}), request id ${event.started.requestId}\n`);
        break;
      case 'delta':
        if (event.delta.refusal !== '') {
          // The model's words declining to answer, told apart from an answer as the unary commands do.
          io.out(refused ? event.delta.refusal : `${REFUSED}${event.delta.refusal}`);
          refused = true;
        } else io.out(event.delta.content);
        break;
      case 'restarted':
        // What was printed came from a model that failed; the next one starts from the beginning.
        refused = false;
        io.out('\n');
        io.info(
          `[restarted: ${event.restarted.failedModel} failed (${event.restarted.reason}); ${event.restarted.nextModel} starts over]\n`,
        );
        break;
      case 'completed': {
        completed = true;
        io.out('\n');
        const c = event.completed;
        const extra = [`time to first token: ${c.timeToFirstTokenMs.toFixed(1)} ms`];
        if (c.fallbackTriggered) extra.push('fallback triggered: yes');
        if (!options.quiet) io.info(answerSummary(c, { extra }));
        break;
      }
      case undefined:
        break;
    }
  }
  if (!completed) throw new IncompleteStreamError('the stream ended without a completed event: the answer is incomplete');
}

async function models(conn: Connection, options: CliOptions, io: Io): Promise<void> {
  const request: ListModelsRequest = {
    ...ListModelsRequest.fromJSON({}),
    provider: options.provider,
    availableOnly: options.availableOnly,
  };
  const response = await unary<ListModelsResponse>(
    (cb) => conn.models.listModels(request, conn.metadata(), conn.callOptions(), cb),
    io.track,
  );
  io.out(options.json ? json(ListModelsResponse.toJSON(response)) : modelsTable(response.models));
}

async function stats(conn: Connection, options: CliOptions, io: Io): Promise<void> {
  const request: GetStatsRequest = GetStatsRequest.fromJSON({});
  const response = await unary<GetStatsResponse>((cb) => conn.stats.getStats(request, conn.metadata(), conn.callOptions(), cb), io.track);
  io.out(options.json ? json(GetStatsResponse.toJSON(response)) : statsText(response));
}

/** Marks a refusal (the model's words declining to answer, apart from its content) on stdout. */
const REFUSED = '[refused] ';

function answerText(answer: { readonly content: string; readonly refusal: string }): string {
  return answer.refusal === '' ? answer.content : `${answer.content}${REFUSED}${answer.refusal}`;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
