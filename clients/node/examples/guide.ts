/**
 * The calls of docs/clients/node.md, runnable: npx tsx clients/node/examples/guide.ts 127.0.0.1:50051
 * (in a project that installed the package, import from '@llm-orchestrator/client' instead).
 */
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  ChatServiceClient,
  errorDetails,
  StreamStrategy,
  type ChatRequest,
  type ChatResponse,
  type StreamChatRequest,
  type StreamChatResponse,
} from '../index.js';

const address = process.argv[2] ?? '127.0.0.1:50051';
const client = new ChatServiceClient(address, credentials.createInsecure(), {
  // Ping only while calls are open and no more often than every 30 s (see "Keepalive").
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 0,
});

/** One Chat call with a deadline; resolves with the response or the ServiceError. */
function chat(request: ChatRequest, timeoutMs: number): Promise<ChatResponse> {
  return new Promise((resolve, reject) => {
    client.chat(request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Chat, retried on UNAVAILABLE / RESOURCE_EXHAUSTED after what the server asked (RetryInfo, pushback). */
const MAX_WAIT_MS = 60_000;

async function chatWithRetry(request: ChatRequest, attempts: number): Promise<ChatResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await chat(request, 30_000);
    } catch (err) {
      const e = err as ServiceError;
      const retryable = e.code === status.UNAVAILABLE || e.code === status.RESOURCE_EXHAUSTED;
      const waitMs = errorDetails(e.metadata).retryAfterMs;
      // A wait longer than this caller will wait (a monthly budget may ask for weeks) ends here too.
      if (!retryable || waitMs === undefined || waitMs > MAX_WAIT_MS || attempt >= attempts) throw err;
      console.log(`retry: ${status[e.code]} after attempt ${attempt}; waiting ${waitMs} ms`);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/** Generated messages list every field: the proto3 defaults, then what this call sets. */
const story = (model: string): StreamChatRequest => ({
  model,
  prompt: 'Tell me a story',
  messages: [],
  models: [],
  strategy: StreamStrategy.STREAM_STRATEGY_UNSPECIFIED,
  restartOnFailure: false,
});

const step = process.argv[3] ?? 'all';

if (step === 'all' || step === 'stream') {
  // A server stream is an async iterable; the deadline covers the whole stream.
  const call = client.streamChat(story('gpt-4o-mini'), new Metadata(), {
    deadline: Date.now() + 20_000,
  });
  let completed = false;
  for await (const event of call) {
    const e = event as StreamChatResponse;
    if (e.event?.$case === 'delta') process.stdout.write(e.event.delta.content);
    if (e.event?.$case === 'completed') {
      completed = true;
      console.log(`\ncompleted: ${e.event.completed.model}, ttft ${e.event.completed.timeToFirstTokenMs.toFixed(1)} ms`);
    }
  }
  if (!completed) throw new Error('stream ended without a completed event');
}

if (step === 'all' || step === 'cancel') {
  // Cancelling ends the call on the server too: the upstream request is aborted.
  const call = client.streamChat(story('gpt-4-turbo'));
  let deltas = 0;
  try {
    for await (const event of call) {
      if ((event as StreamChatResponse).event?.$case === 'delta' && ++deltas === 3) call.cancel();
    }
  } catch (err) {
    console.log(`after 3 deltas: ${status[(err as ServiceError).code]}`);
  }
}

if (step === 'all' || step === 'error') {
  try {
    await chat({ model: 'no-such-model', prompt: 'hi', messages: [] }, 5_000);
  } catch (err) {
    const e = err as ServiceError;
    const { errorInfo } = errorDetails(e.metadata);
    console.log(`${status[e.code]}: ${e.details}`);
    console.log(`reason ${errorInfo?.reason}, metadata ${JSON.stringify(errorInfo?.metadata)}`);
  }
}

if (step === 'retry') {
  const first = await chat({ model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, 30_000);
  console.log(`first: ${first.model}`);
  const res = await chatWithRetry({ model: 'gpt-4o-mini', prompt: 'hi', messages: [] }, 3);
  console.log(`then: ${res.model} after waiting`);
}

client.close();
