/**
 * Calls llm-orchestrator from Node with the generated grpc-js stubs (src/gen, ts-proto):
 * a deadline on every call, an x-request-id in the metadata, and the google.rpc error details
 * (ErrorInfo, BadRequest, RetryInfo) decoded from the `grpc-status-details-bin` trailer.
 *
 *   node --import tsx examples/node/client.ts ADDRESS chat   PROMPT [--model M]
 *   node --import tsx examples/node/client.ts ADDRESS stream PROMPT [--model M]
 *   node --import tsx examples/node/client.ts ADDRESS race   PROMPT [--models a,b]
 *
 * Options: --timeout-ms N (deadline, default 30000), --request-id ID, --temperature T,
 * --max-tokens N, --api-key KEY (default $LLMO_API_KEY; sent as authorization: Bearer KEY), and
 * for a gateway with TLS --ca-file PEM (or --tls for the system's roots) and --cert-file /
 * --key-file for a client certificate (mTLS). Exit status 0 on success, 1 when the call failed, 2 for a usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ErrorInfo, BadRequest, RetryInfo } from '../../src/gen/google/rpc/error_details.js';
import { Status } from '../../src/gen/google/rpc/status.js';
import { ChatServiceClient, type ChatResponse, type RaceResponse, type StreamChatResponse } from '../../src/gen/orchestrator/v1/chat.js';
import { attemptOutcomeToJSON, finishReasonToJSON, type Attempt, type Usage } from '../../src/gen/orchestrator/v1/common.js';

const USAGE = 'usage: client.ts ADDRESS chat|stream|race PROMPT [--model M] [--models a,b] [--timeout-ms N] [--request-id ID]';

type Command = 'chat' | 'stream' | 'race';

interface Args {
  address: string;
  command: Command;
  prompt: string;
  model: string;
  models: string[];
  timeoutMs: number;
  requestId: string;
  sampling: { temperature?: number; maxTokens?: number };
  apiKey: string;
  credentials: grpc.ChannelCredentials;
}

/** The command line, or exit 2 with the usage. */
function parseCommandLine(): Args {
  const usageError = (message: string): never => {
    process.stderr.write(`${message}\n${USAGE}\n`);
    process.exit(2);
  };
  try {
    const { values, positionals } = parseArgs({
      allowPositionals: true,
      options: {
        model: { type: 'string', default: '' },
        models: { type: 'string', default: '' },
        'timeout-ms': { type: 'string', default: '30000' },
        'request-id': { type: 'string' },
        temperature: { type: 'string' },
        'max-tokens': { type: 'string' },
        'api-key': { type: 'string', default: process.env.LLMO_API_KEY ?? '' },
        tls: { type: 'boolean', default: false },
        'ca-file': { type: 'string' },
        'cert-file': { type: 'string' },
        'key-file': { type: 'string' },
      },
    });
    // A value that is not a number of its kind would otherwise reach the call: NaN as a deadline
    // fails at once as DEADLINE_EXCEEDED, 1.5 max tokens as an INTERNAL serialization failure.
    // Ranges are the server's to check: its BadRequest names the field.
    const KINDS = {
      number: { what: 'a number', ok: Number.isFinite },
      int32: { what: 'an integer', ok: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 - 1 },
      deadline: { what: 'a positive number of milliseconds', ok: (n: number) => Number.isFinite(n) && n > 0 },
    } as const;
    const number = (flag: string, value: string, kind: keyof typeof KINDS): number => {
      const n = Number(value);
      if (value.trim() !== '' && KINDS[kind].ok(n)) return n;
      return usageError(`--${flag}: ${KINDS[kind].what} expected, got ${JSON.stringify(value)}`);
    };
    const file = (flag: string, path: string | undefined): Buffer | null => {
      if (path === undefined) return null;
      try {
        return readFileSync(path);
      } catch (err) {
        return usageError(`--${flag}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    if ((values['cert-file'] === undefined) !== (values['key-file'] === undefined)) usageError('--cert-file and --key-file go together');
    // Plaintext, as the gateway listens by default; TLS for a gateway with TLS_CERT_FILE (and a
    // client certificate for one with TLS_CLIENT_CA_FILE).
    const secure = values.tls || values['ca-file'] !== undefined || values['cert-file'] !== undefined;
    const credentials = secure
      ? grpc.credentials.createSsl(
          file('ca-file', values['ca-file']),
          file('key-file', values['key-file']),
          file('cert-file', values['cert-file']),
        )
      : grpc.credentials.createInsecure();
    const [address, command, prompt] = positionals;
    if (address === undefined || prompt === undefined) return usageError('ADDRESS, command and PROMPT are required');
    if (command !== 'chat' && command !== 'stream' && command !== 'race') return usageError(`unknown command: ${String(command)}`);
    return {
      address,
      command,
      prompt,
      model: values.model,
      models: values.models
        .split(',')
        .map((m) => m.trim())
        .filter((m) => m !== ''),
      timeoutMs: number('timeout-ms', values['timeout-ms'], 'deadline'),
      requestId: values['request-id'] ?? crypto.randomUUID(),
      apiKey: values['api-key'],
      credentials,
      sampling: {
        ...(values.temperature === undefined ? {} : { temperature: number('temperature', values.temperature, 'number') }),
        ...(values['max-tokens'] === undefined ? {} : { maxTokens: number('max-tokens', values['max-tokens'], 'int32') }),
      },
    };
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err));
  }
}

const args = parseCommandLine();
const { address, command, prompt, sampling, timeoutMs, requestId } = args;

const client = new ChatServiceClient(address, args.credentials);
const metadata = new grpc.Metadata();
metadata.set('x-request-id', requestId);
if (args.apiKey !== '') metadata.set('authorization', `Bearer ${args.apiKey}`);
/** grpc-js deadlines are absolute: a Date or epoch milliseconds. */
const options = (): Partial<grpc.CallOptions> => ({ deadline: Date.now() + timeoutMs });

try {
  if (command === 'chat') printAnswer('model', await chat());
  else if (command === 'race') printAnswer('winner', await race());
  else await stream();
  process.exitCode = 0;
} catch (err) {
  if (!isServiceError(err)) throw err;
  printError(err);
  process.exitCode = 1;
} finally {
  client.close();
}

function chat(): Promise<ChatResponse> {
  const request = { model: args.model, prompt, messages: [], ...sampling };
  return new Promise((resolve, reject) => {
    const call = client.chat(request, metadata, options(), (err, response) => (err ? reject(err) : resolve(response)));
    // The server echoes the request id in the response headers (and trailers).
    call.on('metadata', (headers) => process.stderr.write(`x-request-id (response header): ${String(headers.get('x-request-id')[0])}\n`));
  });
}

function race(): Promise<RaceResponse> {
  const request = { model: args.model, prompt, messages: [], models: args.models, ...sampling };
  return new Promise((resolve, reject) => {
    client.race(request, metadata, options(), (err, response) => (err ? reject(err) : resolve(response)));
  });
}

/** Prints each delta the moment it arrives; the summary comes with the `completed` event. */
async function stream(): Promise<void> {
  const request = { model: args.model, prompt, messages: [], strategy: 0, models: [], restartOnFailure: false, ...sampling };
  const call = client.streamChat(request, metadata, options());
  let completed = false;
  let midLine = false;
  try {
    // A server stream is an async iterable; an error status rejects the loop.
    for await (const message of call as AsyncIterable<StreamChatResponse>) {
      completed ||= message.event?.$case === 'completed';
      midLine = printEvent(message, midLine);
    }
  } catch (err) {
    // The tokens so far end their line, so the error (on stderr) does not continue it.
    if (midLine) process.stdout.write('\n');
    throw err;
  }
  // A stream that ends without `completed` is never a full answer.
  if (!completed) throw new Error('stream ended without a completed event');
}

/** Prints one stream event as text; answers whether the output is then mid-line. */
function printEvent(message: StreamChatResponse, midLine: boolean): boolean {
  const event = message.event;
  switch (event?.$case) {
    case 'started':
      process.stdout.write(
        `started: model=${event.started.model} provider=${event.started.provider} request_id=${event.started.requestId}\n`,
      );
      return false;
    case 'delta':
      process.stdout.write(event.delta.content);
      return midLine || event.delta.content !== '';
    case 'restarted':
      process.stdout.write(
        `\nrestarted: ${event.restarted.failedModel} failed (${event.restarted.reason}); ${event.restarted.nextModel} starts over\n`,
      );
      return false;
    case 'completed': {
      const c = event.completed;
      process.stdout.write(
        `\ncompleted: model=${c.model} provider=${c.provider} time_to_first_token_ms=${c.timeToFirstTokenMs.toFixed(1)}\n`,
      );
      printSummary(c.usage, c.costUsd, c.latencyMs, finishReasonToJSON(c.finishReason));
      printAttempts(c.attempts);
      return false;
    }
    case undefined:
      return midLine;
  }
}

function printAnswer(label: 'model' | 'winner', r: ChatResponse | RaceResponse): void {
  process.stdout.write(`${label}: ${r.model} (${r.provider})\ncontent: ${r.content}\n`);
  printSummary(r.usage, r.costUsd, r.latencyMs, finishReasonToJSON(r.finishReason));
  printAttempts(r.attempts);
  process.stdout.write(`request_id: ${r.requestId}\n`);
}

function printSummary(usage: Usage | undefined, costUsd: number, latencyMs: number, finishReason: string): void {
  process.stdout.write(
    `usage: prompt=${usage?.promptTokens ?? 0} completion=${usage?.completionTokens ?? 0} total=${usage?.totalTokens ?? 0}\n` +
      `cost_usd: ${costUsd.toFixed(8)}\nlatency_ms: ${latencyMs.toFixed(1)}\nfinish_reason: ${finishReason}\n`,
  );
}

function printAttempts(attempts: readonly Attempt[]): void {
  for (const a of attempts) {
    const outcome = attemptOutcomeToJSON(a.outcome).replace('ATTEMPT_OUTCOME_', '');
    const reason = a.reason && a.reason !== outcome ? ` ${a.reason}` : '';
    process.stdout.write(`attempt: ${a.model} ${outcome}${reason} ${a.latencyMs.toFixed(1)}ms\n`);
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && 'code' in err && typeof err.code === 'number' && 'metadata' in err;
}

/** The code and message, then the google.rpc details: the gRPC "richer error model". */
function printError(err: grpc.ServiceError): void {
  process.stderr.write(`error: ${grpc.status[err.code]}: ${err.details}\n`);
  const id = err.metadata.get('x-request-id')[0];
  if (typeof id === 'string') process.stderr.write(`request_id: ${id}\n`);
  const raw = err.metadata.get('grpc-status-details-bin')[0];
  if (raw === undefined || typeof raw === 'string') return;
  for (const detail of Status.decode(raw).details) {
    switch (detail.typeUrl) {
      case 'type.googleapis.com/google.rpc.ErrorInfo': {
        const info = ErrorInfo.decode(detail.value);
        process.stderr.write(`reason: ${info.reason} (domain ${info.domain})\n`);
        for (const [key, value] of Object.entries(info.metadata).sort()) process.stderr.write(`  ${key}: ${value}\n`);
        break;
      }
      case 'type.googleapis.com/google.rpc.BadRequest':
        for (const v of BadRequest.decode(detail.value).fieldViolations) process.stderr.write(`field ${v.field}: ${v.description}\n`);
        break;
      case 'type.googleapis.com/google.rpc.RetryInfo': {
        const delay = RetryInfo.decode(detail.value).retryDelay;
        if (delay) process.stderr.write(`retry after: ${(delay.seconds + delay.nanos / 1e9).toFixed(3)}s\n`);
        break;
      }
      default:
        break;
    }
  }
}
