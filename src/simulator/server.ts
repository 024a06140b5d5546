import { DEFAULT_ANSWER_LENGTH, type AnswerLength } from './text.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { runChatExchange } from './chat-exchange.js';
import { parseChatRequest } from './chat-request.js';
import { FaultBook, parseFaultRule, type FaultRule } from './faults.js';
import { errorBody, readBody, sendJson } from './http-io.js';
import { handleMessages } from './messages-exchange.js';
import { PromptCacheBook } from './prompt-cache.js';
import { handleEmbeddings } from './embeddings.js';
import { createProfileLookup, DEFAULT_SIM_PROFILES, type SimulatedModelProfile } from './profiles.js';
import { RequestLog, type SimRequestListener, type SimRequestRecord } from './records.js';

export interface SimulatorOptions {
  /** Default '127.0.0.1'. */
  readonly host?: string;
  /** Default 0: an ephemeral port. */
  readonly port?: number;
  /** Default DEFAULT_SIM_PROFILES; unknown models still get a default profile. */
  readonly profiles?: readonly SimulatedModelProfile[];
  /** Multiplies profile ttft and per-token delay; 0 answers as fast as possible. Default 1. */
  readonly latencyScale?: number;
  /**
   * When set, /v1 requests must carry `Authorization: Bearer <apiKey>` (/v1/messages also
   * takes it as `x-api-key`, the Anthropic way).
   */
  readonly apiKey?: string;
  /** Answer length in words; default 12..48. Benchmarks and backpressure tests ask for long ones. */
  readonly answerLength?: AnswerLength;
  /** Oldest request records are dropped past this many (memory bound for benchmarks). Default 10000. */
  readonly maxRecords?: number;
}

export interface Simulator {
  /** e.g. http://127.0.0.1:PORT */
  readonly url: string;
  /** url + '/v1', what the openai SDK takes as baseURL. (@anthropic-ai/sdk takes `url`.) */
  readonly baseURL: string;
  readonly port: number;
  /** Stops listening and destroys every socket, hanging ones included. Idempotent. */
  close(): Promise<void>;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Every accepted chat completion request, in arrival order, updated live. */
  readonly requests: readonly SimRequestRecord[];
  /** Chat requests whose response has not finished and whose connection is still open. */
  openRequests(): number;
  /** Resolves once openRequests() is 0; rejects after `timeoutMs` (default 5000). */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Called as each chat request is accepted; returns an unsubscribe function. */
  onRequest(listener: SimRequestListener): () => void;
  /** TCP connections: accepted since start, and open now (a client's pool as the upstream sees it). */
  connections(): { readonly accepted: number; readonly open: number };
}

// Longer than common client pools' idle timeouts, so the client closes idle sockets first
// instead of reusing one the server is closing.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

interface SimulatorState {
  readonly faults: FaultBook;
  readonly log: RequestLog;
  readonly profiles: readonly SimulatedModelProfile[];
  readonly profileOf: (model: string) => SimulatedModelProfile;
  readonly latencyScale: number;
  readonly answerLength: AnswerLength;
  readonly apiKey: string | undefined;
  readonly promptCache: PromptCacheBook;
}

function invalidRequest(res: ServerResponse, message: string, param: string | null = null, code: string | null = null): void {
  sendJson(res, 400, errorBody(message, { type: 'invalid_request_error', param, code }));
}

function isAuthorized(req: IncomingMessage, state: SimulatorState): boolean {
  return state.apiKey === undefined || req.headers.authorization === `Bearer ${state.apiKey}`;
}

/** Reads and parses a JSON body, answering the error itself; undefined means "already answered". */
async function readJson(req: IncomingMessage, res: ServerResponse): Promise<{ value: unknown } | undefined> {
  const body = await readBody(req);
  if (body.kind === 'aborted') return undefined;
  if (body.kind === 'too_large') {
    sendJson(res, 413, errorBody('Request body too large.', { type: 'invalid_request_error' }));
    return undefined;
  }
  try {
    return { value: JSON.parse(body.text) as unknown };
  } catch {
    invalidRequest(res, 'We could not parse the JSON body of your request. (HINT: the body must be valid JSON.)');
    return undefined;
  }
}

async function handleChat(req: IncomingMessage, res: ServerResponse, state: SimulatorState): Promise<void> {
  const body = await readJson(req, res);
  if (body === undefined) return;
  const parsed = parseChatRequest(body.value);
  if (!parsed.ok) {
    invalidRequest(res, parsed.message, parsed.param, parsed.code);
    return;
  }
  const { request } = parsed;
  const fault = state.faults.take(request.model);
  const record = state.log.begin({
    model: request.model,
    stream: request.stream,
    body: body.value,
    headers: req.headers,
    fault: fault?.kind,
  });
  await runChatExchange({
    req,
    res,
    request,
    profile: state.profileOf(request.model),
    latencyScale: state.latencyScale,
    answerLength: state.answerLength,
    fault,
    record,
    log: state.log,
  });
}

function listModels(res: ServerResponse, state: SimulatorState): void {
  const data = state.profiles.map((profile) => ({
    id: profile.id,
    object: 'model',
    created: 1_700_000_000,
    owned_by: 'simulator',
  }));
  sendJson(res, 200, { object: 'list', data });
}

async function addFaults(req: IncomingMessage, res: ServerResponse, state: SimulatorState): Promise<void> {
  const body = await readJson(req, res);
  if (body === undefined) return;
  const input = Array.isArray(body.value) ? body.value : [body.value];
  let rules: FaultRule[];
  try {
    // Every rule is checked before any is added: a refused list leaves no rule of it behind.
    rules = input.map(parseFaultRule);
  } catch (error) {
    invalidRequest(res, error instanceof Error ? error.message : String(error));
    return;
  }
  for (const rule of rules) state.faults.add(rule);
  sendJson(res, 200, { ok: true, added: rules.length });
}

async function route(req: IncomingMessage, res: ServerResponse, state: SimulatorState): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const endpoint = `${req.method ?? 'GET'} ${path}`;
  // The Anthropic endpoint checks its key itself, to answer with an Anthropic-style error.
  if (endpoint === 'POST /v1/messages') return handleMessages(req, res, state);
  if (path.startsWith('/v1/') && !isAuthorized(req, state)) {
    const body = errorBody('Incorrect API key provided.', { type: 'invalid_request_error', code: 'invalid_api_key' });
    sendJson(res, 401, body);
    return;
  }
  switch (endpoint) {
    case 'POST /v1/chat/completions':
      return handleChat(req, res, state);
    case 'POST /v1/embeddings':
      return handleEmbeddings(req, res, state);
    case 'GET /v1/models':
      return listModels(res, state);
    case 'POST /_sim/faults':
      return addFaults(req, res, state);
    case 'DELETE /_sim/faults':
      state.faults.clear();
      return sendJson(res, 200, { ok: true });
    case 'GET /_sim/requests':
      return sendJson(res, 200, state.log.records);
    default:
      sendJson(res, 404, errorBody(`Unknown route: ${endpoint}`, { type: 'invalid_request_error', code: 'not_found' }));
  }
}

function checkOptions(latencyScale: number, maxRecords: number): void {
  if (!Number.isFinite(latencyScale) || latencyScale < 0) {
    throw new RangeError(`simulator: latencyScale must be a finite number >= 0, got ${latencyScale}`);
  }
  if (!(maxRecords >= 1)) throw new RangeError(`simulator: maxRecords must be >= 1, got ${maxRecords}`);
}

/** A host clients can dial: a wildcard bind is reached over loopback. */
function urlHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1';
  if (address.address === '::') return '[::1]';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/**
 * Starts the embedded OpenAI-compatible upstream: chat completions (JSON and SSE),
 * /v1/models, and fault injection, on a loopback ephemeral port by default. The same port
 * serves the Anthropic Messages API (POST /v1/messages) from the same text, faults and log.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const latencyScale = options.latencyScale ?? 1;
  const maxRecords = options.maxRecords ?? 10_000;
  checkOptions(latencyScale, maxRecords);
  const profiles = options.profiles ?? DEFAULT_SIM_PROFILES;
  const state: SimulatorState = {
    faults: new FaultBook(),
    log: new RequestLog(maxRecords),
    profiles,
    profileOf: createProfileLookup(profiles),
    latencyScale,
    answerLength: options.answerLength ?? DEFAULT_ANSWER_LENGTH,
    apiKey: options.apiKey,
    promptCache: new PromptCacheBook(),
  };

  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((req, res) => {
    route(req, res, state).catch((error: unknown) => {
      // A simulator bug must surface in the test that hit it, not as an unhandled rejection.
      process.emitWarning(`simulator: request failed: ${String(error)}`);
      if (!res.headersSent) sendJson(res, 500, errorBody('Simulator internal error.', { type: 'server_error' }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    accepted += 1;
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // exclusive: in a cluster worker (WORKERS > 1) each worker gets its own simulator port
    // instead of sharing one through the primary, so its faults and its traffic stay its own.
    server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1', exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const host = urlHost(address);
  const url = `http://${host}:${address.port}`;
  let closing: Promise<void> | undefined;

  return {
    url,
    baseURL: `${url}/v1`,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        state.faults.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
    injectFault: (rule) => state.faults.add(rule),
    clearFaults: () => state.faults.clear(),
    get requests() {
      return state.log.records;
    },
    openRequests: () => state.log.openCount,
    waitForIdle: (timeoutMs = 5_000) => state.log.waitForIdle(timeoutMs),
    onRequest: (listener) => state.log.subscribe(listener),
    connections: () => ({ accepted, open: sockets.size }),
  };
}
