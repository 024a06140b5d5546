import * as grpc from '@grpc/grpc-js';
import { ChatServiceClient, type StreamChatRequest, type StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { type Message, Role } from '../../src/gen/orchestrator/v1/common.js';
import { ModelServiceClient } from '../../src/gen/orchestrator/v1/models.js';
import { StatsServiceClient } from '../../src/gen/orchestrator/v1/stats.js';
import { HealthClient } from '../../src/gen/grpc/health/v1/health.js';
import { decodeStatusDetails } from '../../src/cli/status-details.js';

export interface Clients {
  chat: ChatServiceClient;
  models: ModelServiceClient;
  stats: StatsServiceClient;
  health: HealthClient;
  close(): void;
}

export function clientsFor(port: number): Clients {
  const address = `127.0.0.1:${port}`;
  const credentials = grpc.credentials.createInsecure();
  // Each test file gets its own connection, not one shared through the global subchannel pool.
  const options = { 'grpc.use_local_subchannel_pool': 1 };
  const chat = new ChatServiceClient(address, credentials, options);
  const models = new ModelServiceClient(address, credentials, options);
  const stats = new StatsServiceClient(address, credentials, options);
  const health = new HealthClient(address, credentials, options);
  return {
    chat,
    models,
    stats,
    health,
    close: () => {
      for (const c of [chat, models, stats, health]) c.close();
    },
  };
}

export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

export interface UnaryResult<Res> {
  response: Res;
  headers: grpc.Metadata;
  trailers: grpc.Metadata;
}

/** Calls a unary method and resolves with the response, the response headers and trailers. */
export function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { metadata?: Record<string, string>; deadlineMs?: number } = {},
): Promise<UnaryResult<Res>> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  const callOptions: Partial<grpc.CallOptions> = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve, reject) => {
    let headers = new grpc.Metadata();
    let trailers = new grpc.Metadata();
    let outcome: { ok: true; response: Res } | { ok: false; err: grpc.ServiceError } | undefined;
    const settle = (): void => {
      if (!outcome || !statusSeen) return;
      if (outcome.ok) resolve({ response: outcome.response, headers, trailers });
      else reject(outcome.err);
    };
    let statusSeen = false;
    const call = method(request, metadata, callOptions, (err, response) => {
      outcome = err ? { ok: false, err } : { ok: true, response };
      settle();
    });
    call.on('metadata', (md) => (headers = md));
    call.on('status', (status) => {
      trailers = status.metadata;
      statusSeen = true;
      settle();
    });
  });
}

/** The error a unary call failed with (fails the test if it succeeded). */
export async function unaryError<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { metadata?: Record<string, string>; deadlineMs?: number } = {},
): Promise<grpc.ServiceError & { decoded: ReturnType<typeof decodeStatusDetails> }> {
  try {
    await callUnary(method, request, options);
  } catch (err) {
    const e = err as grpc.ServiceError;
    return Object.assign(e, { decoded: decodeStatusDetails(e.metadata) });
  }
  throw new Error('expected the call to fail');
}

export interface StreamResult<Res> {
  messages: Res[];
  status: grpc.StatusObject;
  error: (grpc.ServiceError & { decoded: ReturnType<typeof decodeStatusDetails> }) | undefined;
  headers: grpc.Metadata;
}

/** Reads a server stream to its end and returns every message and the final status. */
export function collectStream<Res>(call: grpc.ClientReadableStream<Res>): Promise<StreamResult<Res>> {
  return new Promise((resolve) => {
    const messages: Res[] = [];
    let headers = new grpc.Metadata();
    let error: StreamResult<Res>['error'];
    call.on('metadata', (md) => (headers = md));
    call.on('data', (m: Res) => messages.push(m));
    call.on('error', (err: grpc.ServiceError) => {
      error = Object.assign(err, { decoded: decodeStatusDetails(err.metadata) });
    });
    call.on('status', (status: grpc.StatusObject) => {
      // 'status' can come before 'error'; let the error handler run first.
      setImmediate(() => resolve({ messages, status, error, headers }));
    });
  });
}

/** A StreamChatRequest with every field the test does not care about left at its default. */
export function streamRequest(fields: Partial<StreamChatRequest>): StreamChatRequest {
  return { model: '', prompt: '', messages: [], strategy: 0, models: [], restartOnFailure: false, ...fields };
}

/** A conversation message with every field the test does not set at its default (a user turn). */
export function chatMessage(fields: Partial<Message>): Message {
  return { role: Role.ROLE_USER, content: '', parts: [], toolCalls: [], toolCallId: '', ...fields };
}

/** Cancels the StreamChat once its first content delta arrives; resolves then. */
export function cancelAtFirstDelta(call: grpc.ClientReadableStream<StreamChatResponse>): Promise<void> {
  call.on('error', () => undefined);
  return new Promise<void>((resolve) => {
    call.on('data', (m: StreamChatResponse) => {
      if (m.event?.$case === 'delta') {
        call.cancel();
        resolve();
      }
    });
  });
}
