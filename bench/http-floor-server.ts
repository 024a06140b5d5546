/**
 * The floor under the gateway's HTTP API: a server that answers POST /v1/chat/completions doing
 * the least a Node gateway must, for `bench/http-profile.ts --floor MODE` (FLOOR below):
 *
 * - `node`: node:http; the request body read and parsed, a canned chat.completion answer;
 * - `fastify`: the same on Fastify, the gateway's framework (its body parser, routing and reply);
 * - `proxy`: Fastify and one upstream call per request on an undici Pool: the upstream request
 *   written as JSON, its answer read and parsed, an OpenAI answer written from it. A gateway
 *   with nothing of its own: no engine, no checks, no metrics, no ledger.
 *
 * Env: FLOOR, UPSTREAM_PORT (proxy). Prints {"floor":"listening","port":N}.
 */
import { createServer, type IncomingMessage } from 'node:http';
import Fastify from 'fastify';
import { Pool } from 'undici';

interface ChatBody {
  readonly model?: unknown;
  readonly messages?: unknown;
  readonly temperature?: unknown;
  readonly max_tokens?: unknown;
}

const CANNED = JSON.stringify(answer('chatcmpl-floor', 'gpt-4o', 'Hello! This is a canned answer from the benchmark upstream.', 12, 12));
const JSON_TYPE = 'application/json; charset=utf-8';

function answer(id: string, model: string, content: string, prompt: number, completion: number) {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

async function main(): Promise<void> {
  const mode = process.env.FLOOR ?? 'node';
  const port = mode === 'node' ? await nodeFloor() : await fastifyFloor(mode === 'proxy' ? Number(process.env.UPSTREAM_PORT) : undefined);
  process.stdout.write(`${JSON.stringify({ floor: 'listening', mode, port })}\n`);
  // An exit, not a kill, so that `--cpu-prof` writes its profile.
  process.once('SIGTERM', () => process.exit(0));
}

function nodeFloor(): Promise<number> {
  const server = createServer((req, res) => {
    void readJson(req).then(
      (body) => {
        const ok = typeof body.model === 'string';
        res.writeHead(ok ? 200 : 400, { 'content-type': JSON_TYPE, 'content-length': ok ? Buffer.byteLength(CANNED) : 0 });
        res.end(ok ? CANNED : undefined);
      },
      () => {
        res.writeHead(400).end();
      },
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/** Read with events, not async iteration (which costs a promise per chunk): the least node:http asks. */
function readJson(req: IncomingMessage): Promise<ChatBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody);
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

async function fastifyFloor(upstreamPort: number | undefined): Promise<number> {
  const app = Fastify({ logger: false });
  const pool = upstreamPort === undefined ? undefined : new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 512 });
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = request.body as ChatBody;
    if (typeof body.model !== 'string' || !Array.isArray(body.messages)) return reply.code(400).send({ error: 'bad request' });
    if (!pool) return reply.header('content-type', JSON_TYPE).send(CANNED);
    const upstream = await pool.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer floor' },
      body: JSON.stringify({ model: body.model, messages: body.messages, temperature: body.temperature, max_tokens: body.max_tokens }),
    });
    const parsed = (await upstream.body.json()) as {
      id: string;
      model: string;
      choices: { message: { content: string } }[];
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    const text = JSON.stringify(
      answer(parsed.id, parsed.model, parsed.choices[0]?.message.content ?? '', parsed.usage.prompt_tokens, parsed.usage.completion_tokens),
    );
    return reply.code(upstream.statusCode).header('content-type', JSON_TYPE).send(text);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as { port: number }).port;
}

void main();
