/**
 * A bare grpc-js ChatService that answers at once with a canned response: the floor for any
 * gateway on grpc-js (decode, handler, encode, HTTP/2), with no engine and no upstream call.
 * Chat returns one ChatResponse; StreamChat writes started, 20 deltas and completed.
 * Prints {"echo":"listening","port":N}.
 */
import * as grpc from '@grpc/grpc-js';
import { ChatResponse, ChatServiceService, StreamChatResponse } from '../src/gen/orchestrator/v1/chat.js';

const answer = ChatResponse.fromJSON({
  content: 'Hello! This is a canned answer from the benchmark upstream.',
  model: 'gpt-4o',
  provider: 'openai',
  usage: { promptTokens: 12, completionTokens: 12, totalTokens: 24, cachedTokens: 0 },
  costUsd: 0.00015,
  latencyMs: 0.1,
  requestId: 'echo',
  attempts: [],
  finishReason: 'FINISH_REASON_STOP',
});
const started = StreamChatResponse.fromJSON({ started: { requestId: 'echo', model: 'gpt-4o', provider: 'openai' } });
const deltas = Array.from({ length: 20 }, (_, i) => StreamChatResponse.fromJSON({ delta: { content: `tok${i} ` } }));
const completed = StreamChatResponse.fromJSON({
  completed: {
    finishReason: 'FINISH_REASON_STOP',
    usage: { promptTokens: 12, completionTokens: 20, totalTokens: 32, cachedTokens: 0 },
    model: 'gpt-4o',
    provider: 'openai',
  },
});

const implementation = {
  chat: (_call: grpc.ServerUnaryCall<unknown, ChatResponse>, callback: grpc.sendUnaryData<ChatResponse>) => {
    callback(null, answer);
  },
  streamChat: (call: grpc.ServerWritableStream<unknown, StreamChatResponse>) => {
    call.write(started);
    for (const d of deltas) call.write(d);
    call.write(completed);
    call.end();
  },
};

const server = new grpc.Server();
server.addService(ChatServiceService, implementation as unknown as grpc.UntypedServiceImplementation);
server.bindAsync(`127.0.0.1:${Number(process.env.PORT ?? 0)}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ echo: 'listening', port })}\n`);
});

const stop = (): void => {
  server.forceShutdown();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
