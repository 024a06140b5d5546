/**
 * A minimal OpenAI-compatible upstream for the benchmarks, run as its own process so it never
 * shares an event loop with what it measures. It must be cheap: canned bodies are built once,
 * the request body is scanned (not parsed) for the model and `"stream":true`, and paced
 * streams share one timer instead of one per stream.
 *
 * Behaviour by model (the gateway forwards the catalog id as the upstream model):
 *   gpt-4o         JSON at once; SSE: every chunk at once               (zero latency)
 *   gpt-4o-mini    JSON after SLOW_MS (default 5 ms)                   (the slower racer)
 *   gpt-4-turbo    HTTP 500 at once                                     (the failing primary)
 *   gpt-3.5-turbo  SSE paced at TOKEN_RATE tokens/s (default 50)        (realistic streams)
 * Anything else behaves like gpt-4o.
 * A request whose body contains `cut-the-stream` and asks for a stream gets the role chunk and
 * two tokens, then its connection is destroyed (a fault mid-stream, for the soak).
 *
 * GET /_bench/stats: counters, and `open`: requests whose response has not ended or closed yet
 * (what the soak checks is back to 0 once the load stops).
 *
 * Env: PORT (0), HOST (127.0.0.1), STREAM_TOKENS (chunks per stream, default 20),
 * PACED_TOKENS (chunks per paced stream, default 100), TOKEN_RATE, SLOW_MS.
 * Prints one JSON line {"upstream":"listening","port":N} on stdout when ready.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const HOST = process.env.HOST ?? '127.0.0.1';
const PORT = Number(process.env.PORT ?? 0);
const STREAM_TOKENS = Number(process.env.STREAM_TOKENS ?? 20);
const PACED_TOKENS = Number(process.env.PACED_TOKENS ?? 100);
const TOKEN_RATE = Number(process.env.TOKEN_RATE ?? 50);
const SLOW_MS = Number(process.env.SLOW_MS ?? 5);

const PROMPT_TOKENS = 12;
const ANSWER = 'Hello! This is a canned answer from the benchmark upstream.';
const COMPLETION_TOKENS = 12;

const usage = (completion: number): string =>
  JSON.stringify({
    prompt_tokens: PROMPT_TOKENS,
    completion_tokens: completion,
    total_tokens: PROMPT_TOKENS + completion,
    prompt_tokens_details: { cached_tokens: 0 },
  });

const completionJson = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'bench-model',
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: ANSWER, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: JSON.parse(usage(COMPLETION_TOKENS)) as unknown,
  }),
);
const errorJson = Buffer.from(JSON.stringify({ error: { message: 'injected failure', type: 'server_error', param: null, code: null } }));

const head =
  '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","system_fingerprint":null,';
const roleChunk = `data: ${head}"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
const tokenChunk = (i: number): string =>
  `data: ${head}"choices":[{"index":0,"delta":{"content":${JSON.stringify(`tok${i} `)}},"logprobs":null,"finish_reason":null}]}\n\n`;
const finishChunk = `data: ${head}"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n`;
const usageChunk = (n: number): string => `data: ${head}"choices":[],"usage":${usage(n)}}\n\n`;
const DONE = 'data: [DONE]\n\n';

/** A whole zero-latency stream, one buffer: role, tokens, finish, usage, [DONE]. */
const instantStream = Buffer.from(
  roleChunk + Array.from({ length: STREAM_TOKENS }, (_, i) => tokenChunk(i)).join('') + finishChunk + usageChunk(STREAM_TOKENS) + DONE,
);
const tokenChunks = Array.from({ length: PACED_TOKENS }, (_, i) => Buffer.from(tokenChunk(i)));
const pacedTail = Buffer.from(finishChunk + usageChunk(PACED_TOKENS) + DONE);
const pacedHead = Buffer.from(roleChunk);

const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': completionJson.length };
const ERROR_HEADERS = { 'content-type': 'application/json', 'content-length': errorJson.length };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

/**
 * Paced streams: one shared ticker (every TICK_MS) writes every token that is due. Token k of a
 * stream is due at start + k / TOKEN_RATE, so the rate holds on average whatever the timer
 * jitter; tokens that fell due together go out in one write.
 */
interface Paced {
  readonly res: http.ServerResponse;
  readonly start: number;
  next: number;
}
const paced = new Set<Paced>();
let ticker: NodeJS.Timeout | undefined;
const intervalMs = 1000 / TOKEN_RATE;
const TICK_MS = Math.max(1, Math.min(5, Math.floor(intervalMs / 2)));

function tick(): void {
  const now = performance.now();
  for (const s of paced) {
    if (s.res.destroyed) {
      paced.delete(s);
      continue;
    }
    const due = Math.min(PACED_TOKENS, Math.floor((now - s.start) / intervalMs) + 1);
    if (due <= s.next) continue;
    if (due - s.next === 1) {
      s.res.write(tokenChunks[s.next]!);
    } else {
      s.res.write(Buffer.concat(tokenChunks.slice(s.next, due)));
    }
    s.next = due;
    if (s.next >= PACED_TOKENS) {
      paced.delete(s);
      s.res.end(pacedTail);
    }
  }
  if (paced.size === 0 && ticker) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

function startPaced(res: http.ServerResponse): void {
  res.writeHead(200, SSE_HEADERS);
  // The first token goes out at once, so time to first token measures the path, not the pace.
  res.write(Buffer.concat([pacedHead, tokenChunks[0] ?? Buffer.alloc(0)]));
  const s: Paced = { res, start: performance.now(), next: 1 };
  paced.add(s);
  res.on('close', () => paced.delete(s));
  ticker ??= setInterval(tick, TICK_MS);
}

function modelOf(body: string): string {
  const at = body.indexOf('"model":');
  if (at < 0) return '';
  const start = body.indexOf('"', at + 8) + 1;
  const end = body.indexOf('"', start);
  return start > 0 && end > start ? body.slice(start, end) : '';
}

const stats = { requests: 0, streams: 0, errors: 0, connections: 0, cut: 0 };
let open = 0;

const server = http.createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, (req, res) => {
  if (req.method === 'GET' && req.url === '/_bench/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ...stats, open, openPaced: paced.size }));
    return;
  }
  open += 1;
  res.once('close', () => {
    open -= 1;
  });
  if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"not found"}}');
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    stats.requests += 1;
    const body = parts.length === 1 ? parts[0]!.toString('latin1') : Buffer.concat(parts).toString('latin1');
    const model = modelOf(body);
    if (model === 'gpt-4-turbo') {
      stats.errors += 1;
      res.writeHead(500, ERROR_HEADERS);
      res.end(errorJson);
      return;
    }
    const stream = body.includes('"stream":true');
    if (stream) {
      stats.streams += 1;
      if (body.includes('cut-the-stream')) {
        stats.cut += 1;
        res.writeHead(200, SSE_HEADERS);
        res.write(Buffer.concat([pacedHead, tokenChunks[0] ?? Buffer.alloc(0), tokenChunks[1] ?? Buffer.alloc(0)]));
        setTimeout(() => res.destroy(), 5);
        return;
      }
      if (model === 'gpt-3.5-turbo') {
        startPaced(res);
        return;
      }
      res.writeHead(200, SSE_HEADERS);
      res.end(instantStream);
      return;
    }
    if (model === 'gpt-4o-mini' && SLOW_MS > 0) {
      setTimeout(() => {
        res.writeHead(200, JSON_HEADERS);
        res.end(completionJson);
      }, SLOW_MS);
      return;
    }
    res.writeHead(200, JSON_HEADERS);
    res.end(completionJson);
  });
});
server.on('connection', () => {
  stats.connections += 1;
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.maxRequestsPerSocket = 0;

server.listen(PORT, HOST, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ upstream: 'listening', port })}\n`);
});

const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
