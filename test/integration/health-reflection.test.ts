/**
 * Wire behaviour of src/server/{errors,health,reflection}.ts against a real grpc-js server on
 * port 0: what a grpc-js client and `buf curl` actually receive.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorKind, OrchestratorError, Reason, invalidArgument } from '../../src/domain/errors.js';
import {
  ChatRequest,
  ChatServiceClient,
  ChatServiceService,
  type ChatServiceServer,
  type StreamChatResponse,
  StreamChatRequest,
} from '../../src/gen/orchestrator/v1/chat.js';
import {
  HealthCheckResponse_ServingStatus as Wire,
  type HealthCheckResponse,
  type HealthCheckRequest,
  HealthClient,
  HealthService,
} from '../../src/gen/grpc/health/v1/health.js';
import { ERROR_DOMAIN, grpcErrorFor, INTERNAL_MESSAGE } from '../../src/server/errors.js';
import { decodeStatusDetails } from '../../src/cli/status-details.js';
import { HealthRegistry } from '../../src/server/health.js';
import { addReflection, descriptorPath } from '../../src/server/reflection.js';
import { BUF, listMethods, listServices } from '../helpers/buf-curl.js';

const run = promisify(execFile);

/** The error each test model name makes the test service fail with. */
const ERRORS: Readonly<Record<string, () => unknown>> = {
  ...Object.fromEntries(
    (
      [
        'invalid_argument',
        'not_found',
        'unauthenticated',
        'permission_denied',
        'resource_exhausted',
        'failed_precondition',
        'deadline_exceeded',
        'cancelled',
        'unavailable',
        'internal',
      ] satisfies ErrorKind[]
    ).map((kind) => [
      kind,
      () =>
        new OrchestratorError({
          kind,
          reason: Reason.UPSTREAM_ERROR,
          message: `${kind} happened`,
          metadata: { model: 'gpt-4o' },
        }),
    ]),
  ),
  bad_request: () =>
    invalidArgument([
      { field: 'messages', description: 'must not be empty' },
      { field: 'temperature', description: 'must be between 0 and 2' },
    ]),
  retry: () =>
    new OrchestratorError({
      kind: 'unavailable',
      reason: Reason.UPSTREAM_RATE_LIMITED,
      message: 'upstream rate limited',
      retryAfterMs: 1500,
    }),
  bug: () => new Error('secret: postgres://admin:hunter2@db'),
};

const KIND_CODES: ReadonlyArray<[ErrorKind, grpc.status]> = [
  ['invalid_argument', grpc.status.INVALID_ARGUMENT],
  ['not_found', grpc.status.NOT_FOUND],
  ['unauthenticated', grpc.status.UNAUTHENTICATED],
  ['permission_denied', grpc.status.PERMISSION_DENIED],
  ['resource_exhausted', grpc.status.RESOURCE_EXHAUSTED],
  ['failed_precondition', grpc.status.FAILED_PRECONDITION],
  ['deadline_exceeded', grpc.status.DEADLINE_EXCEEDED],
  ['cancelled', grpc.status.CANCELLED],
  ['unavailable', grpc.status.UNAVAILABLE],
  ['internal', grpc.status.INTERNAL],
];

function failure(model: string): unknown {
  const make = ERRORS[model];
  if (!make) throw new Error(`test bug: no error named ${model}`);
  return make();
}

/** A ChatService whose calls fail with the error named by the request's model. */
const failingChat: ChatServiceServer = {
  chat: (call, callback) => callback(grpcErrorFor(failure(call.request.model))),
  streamChat: (call) => {
    // One message first, to show the status still arrives after data already sent.
    call.write({ event: { $case: 'delta', delta: { content: 'partial', toolCalls: [], refusal: '' } } } satisfies StreamChatResponse);
    call.emit('error', grpcErrorFor(failure(call.request.model)));
  },
  race: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
  fallback: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
  batch: (call) => call.emit('error', { code: grpc.status.UNIMPLEMENTED }),
};

interface Running {
  readonly server: grpc.Server;
  readonly port: number;
  readonly address: string;
}

async function start(setup: (server: grpc.Server) => void): Promise<Running> {
  const server = new grpc.Server();
  setup(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { server, port, address: `127.0.0.1:${port}` };
}

function stop(running: Running | undefined): Promise<void> {
  if (!running) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      running.server.forceShutdown();
      resolve();
    }, 1_000);
    running.server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

function deadline(ms = 5_000): Partial<grpc.CallOptions> {
  return { deadline: Date.now() + ms };
}

function unaryChatError(client: ChatServiceClient, model: string): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) => {
    client.chat(ChatRequest.fromJSON({ model }), new grpc.Metadata(), deadline(), (err) =>
      err ? resolve(err) : reject(new Error('expected an error')),
    );
  });
}

function streamChatError(client: ChatServiceClient, model: string): Promise<{ err: grpc.ServiceError; messages: StreamChatResponse[] }> {
  return new Promise((resolve, reject) => {
    const messages: StreamChatResponse[] = [];
    const stream = client.streamChat(StreamChatRequest.fromJSON({ model }), new grpc.Metadata(), deadline());
    stream.on('data', (message: StreamChatResponse) => messages.push(message));
    stream.on('error', (err: grpc.ServiceError) => resolve({ err, messages }));
    stream.on('end', () => reject(new Error('stream ended without an error')));
  });
}

/** Collects a Watch stream's statuses; `next(n)` waits until n have arrived. */
function watch(client: HealthClient, service: string) {
  const statuses: Wire[] = [];
  let ended: grpc.ServiceError | undefined;
  const waiters = new Set<() => void>();
  const call = client.watch({ service });
  const wake = (): void => {
    for (const waiter of waiters) waiter();
  };
  call.on('data', (message: HealthCheckResponse) => {
    statuses.push(message.status);
    wake();
  });
  call.on('error', (err: grpc.ServiceError) => {
    ended = err;
    wake();
  });
  const until = (done: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(statuses)}`));
      }, 3_000);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return {
    call,
    statuses,
    next: (count: number) => until(() => statuses.length >= count, `${count} statuses`),
    ended: async (): Promise<grpc.ServiceError> => {
      await until(() => ended !== undefined, 'the stream to end');
      return ended as grpc.ServiceError;
    },
  };
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 3_000;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function check(client: HealthClient, service: string): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) =>
    client.check({ service }, new grpc.Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** A ServerReflectionRequest with `host` and one string field of its oneof (4: file_containing_symbol, 7: list_services). */
function reflectionRequest(host: string, field: number, value: string): Buffer {
  return Buffer.from(
    new BinaryWriter()
      .uint32(10)
      .string(host)
      .uint32((field << 3) | 2)
      .string(value)
      .finish(),
  );
}

/** The first string in `field` of a message. */
function stringField(message: Uint8Array, field: number): string | undefined {
  const reader = new BinaryReader(message);
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (number === field && wireType === WireType.LengthDelimited) return reader.string();
    reader.skip(wireType);
  }
  return undefined;
}

/** The repeated field 1 of the message in `field` (services of a ListServiceResponse, files of a FileDescriptorResponse). */
function nested(message: Uint8Array, field: number): Uint8Array[] {
  const reader = new BinaryReader(message);
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (number !== field || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType);
      continue;
    }
    const inner = new BinaryReader(reader.bytes());
    const items: Uint8Array[] = [];
    while (inner.pos < inner.len) {
      const [n, w] = inner.tag();
      if (n === 1 && w === WireType.LengthDelimited) items.push(inner.bytes());
      else inner.skip(w);
    }
    return items;
  }
  return [];
}

let main: Running | undefined;
let chat: ChatServiceClient;
let health: HealthClient;
const registry = new HealthRegistry({ '': 'SERVING', 'orchestrator.v1.ChatService': 'SERVING' });

beforeAll(async () => {
  main = await start((server) => {
    server.addService(ChatServiceService, failingChat);
    server.addService(HealthService, registry.implementation);
    addReflection(server);
  });
  chat = new ChatServiceClient(main.address, grpc.credentials.createInsecure());
  health = new HealthClient(main.address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  chat?.close();
  health?.close();
  registry.endWatches();
  await stop(main);
});

describe('errors on the wire', () => {
  describe.each([
    ['unary', (model: string) => unaryChatError(chat, model)],
    ['server stream', async (model: string) => (await streamChatError(chat, model)).err],
  ])('%s', (_kind, callFailing) => {
    it.each(KIND_CODES)('%s arrives as code %i with ErrorInfo', async (kind, code) => {
      const err = await callFailing(kind);
      expect(err.code).toBe(code);
      expect(err.details).toBe(kind === 'internal' ? INTERNAL_MESSAGE : `${kind} happened`);
      const decoded = decodeStatusDetails(err.metadata);
      expect(decoded.status?.code).toBe(code);
      expect(decoded.errorInfo).toEqual({
        reason: Reason.UPSTREAM_ERROR,
        domain: ERROR_DOMAIN,
        metadata: { model: 'gpt-4o' },
      });
    });

    it('carries BadRequest field violations', async () => {
      const err = await callFailing('bad_request');
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      const decoded = decodeStatusDetails(err.metadata);
      expect(decoded.errorInfo?.reason).toBe(Reason.INVALID_REQUEST);
      expect(decoded.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['messages', 'temperature']);
      expect(decoded.badRequest?.fieldViolations[1]?.description).toBe('must be between 0 and 2');
    });

    it('carries RetryInfo', async () => {
      const err = await callFailing('retry');
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(decodeStatusDetails(err.metadata).retryInfo).toEqual({
        retryDelay: { seconds: 1, nanos: 500_000_000 },
      });
    });

    it('turns a plain Error into INTERNAL without leaking it', async () => {
      const err = await callFailing('bug');
      expect(err.code).toBe(grpc.status.INTERNAL);
      expect(err.details).toBe(INTERNAL_MESSAGE);
      expect(err.message).not.toContain('hunter2');
      for (const values of Object.values(err.metadata.getMap())) expect(String(values)).not.toContain('hunter2');
      expect(decodeStatusDetails(err.metadata).errorInfo?.reason).toBe('INTERNAL');
    });
  });

  it('delivers messages written before the error status', async () => {
    const { err, messages } = await streamChatError(chat, 'unavailable');
    expect(messages).toHaveLength(1);
    expect(messages[0]?.event?.$case).toBe('delta');
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('health', () => {
  it('Check answers known services and NOT_FOUND for unknown ones', async () => {
    expect((await check(health, '')).status).toBe(Wire.SERVING);
    expect((await check(health, 'orchestrator.v1.ChatService')).status).toBe(Wire.SERVING);
    await expect(check(health, 'nope.v1.Nope')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('Check answers NOT_FOUND for an unknown name of any length, quoting it cut short so the status fits the trailers', async () => {
    const started = Date.now();
    const err = (await check(health, `nope.${'x'.repeat(100_000)}`).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(err.details).toMatch(/^unknown service "nope\.x+…"$/);
    expect(Buffer.byteLength(err.details)).toBeLessThanOrEqual(512);
  });

  it('List returns every status', async () => {
    const local = new HealthRegistry({ '': 'SERVING', a: 'NOT_SERVING' });
    const running = await start((server) => server.addService(HealthService, local.implementation));
    const client = new HealthClient(running.address, grpc.credentials.createInsecure());
    try {
      const list = await new Promise<Record<string, HealthCheckResponse>>((resolve, reject) =>
        client.list({}, new grpc.Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res.statuses))),
      );
      expect(list).toEqual({ '': { status: Wire.SERVING }, a: { status: Wire.NOT_SERVING } });
    } finally {
      client.close();
      await stop(running);
    }
  });

  it('Watch sends the current status, then each real change, and forgets a cancelled watcher', async () => {
    const service = 'watch.known';
    registry.setStatus(service, 'SERVING');
    const before = registry.watchCount;
    const w = watch(health, service);
    await w.next(1);
    expect(w.statuses).toEqual([Wire.SERVING]);

    registry.setStatus(service, 'NOT_SERVING');
    await w.next(2);
    // The same status again is not a change; the next message must be the SERVING below.
    registry.setStatus(service, 'NOT_SERVING');
    registry.setStatus(service, 'SERVING');
    await w.next(3);
    expect(w.statuses).toEqual([Wire.SERVING, Wire.NOT_SERVING, Wire.SERVING]);

    expect(registry.watchCount).toBe(before + 1);
    w.call.cancel();
    await eventually(() => registry.watchCount === before, 'the watcher to be removed');
    registry.setStatus(service, 'NOT_SERVING');
  });

  it('Watch of an unknown service sends SERVICE_UNKNOWN, stays open, then reports it once known', async () => {
    const w = watch(health, 'watch.later');
    await w.next(1);
    expect(w.statuses).toEqual([Wire.SERVICE_UNKNOWN]);
    registry.setStatus('watch.later', 'SERVING');
    await w.next(2);
    expect(w.statuses).toEqual([Wire.SERVICE_UNKNOWN, Wire.SERVING]);
    w.call.cancel();
  });

  it('Watch on a full stream skips stale statuses and sends only the latest on drain', () => {
    const local = new HealthRegistry({ s: 'SERVING' });
    // A stand-in for a stream whose buffer is full: every write reports backpressure.
    const fake = Object.assign(new EventEmitter(), {
      request: { service: 's' },
      cancelled: false,
      written: [] as Wire[],
      write(message: HealthCheckResponse): boolean {
        this.written.push(message.status);
        return false;
      },
    });
    local.implementation.watch(fake as unknown as grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>);
    expect(fake.written).toEqual([Wire.SERVING]);
    local.setStatus('s', 'NOT_SERVING');
    local.setStatus('s', 'SERVING');
    local.setStatus('s', 'NOT_SERVING');
    expect(fake.written).toEqual([Wire.SERVING]);
    fake.emit('drain');
    expect(fake.written).toEqual([Wire.SERVING, Wire.NOT_SERVING]);
    // Changed and changed back while full: by 'drain' there is nothing new to say.
    local.setStatus('s', 'SERVING');
    local.setStatus('s', 'NOT_SERVING');
    fake.emit('drain');
    expect(fake.written).toEqual([Wire.SERVING, Wire.NOT_SERVING]);
    local.setStatus('s', 'SERVING');
    expect(fake.written).toEqual([Wire.SERVING, Wire.NOT_SERVING, Wire.SERVING]);
    fake.emit('cancelled');
    expect(local.watchCount).toBe(0);
    local.setStatus('s', 'NOT_SERVING');
    expect(fake.written).toHaveLength(3);
  });

  it('setAll changes every service, the whole server included', async () => {
    const local = new HealthRegistry({ a: 'SERVING' });
    local.setAll('NOT_SERVING');
    expect(local.getStatus('a')).toBe('NOT_SERVING');
    expect(local.getStatus('')).toBe('NOT_SERVING');
  });

  it('endWatches ends open Watch streams, which otherwise block tryShutdown, and later ones too', async () => {
    const local = new HealthRegistry({ '': 'SERVING' });
    const running = await start((server) => server.addService(HealthService, local.implementation));
    const client = new HealthClient(running.address, grpc.credentials.createInsecure());
    try {
      const first = watch(client, '');
      const second = watch(client, 'unknown.service');
      await first.next(1);
      await second.next(1);
      expect(local.watchCount).toBe(2);

      let shutDown = false;
      const shutdown = new Promise<void>((resolve) =>
        running.server.tryShutdown(() => {
          shutDown = true;
          resolve();
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(shutDown).toBe(false);

      local.endWatches(grpc.status.UNAVAILABLE, 'server is shutting down');
      for (const w of [first, second]) {
        const err = await w.ended();
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
        expect(err.details).toBe('server is shutting down');
      }
      expect(local.watchCount).toBe(0);
      await shutdown;
    } finally {
      client.close();
      running.server.forceShutdown();
    }
  });

  it('a Watch that arrives after endWatches ends at once', async () => {
    const local = new HealthRegistry({ '': 'SERVING' });
    const running = await start((server) => server.addService(HealthService, local.implementation));
    const client = new HealthClient(running.address, grpc.credentials.createInsecure());
    try {
      local.endWatches(grpc.status.UNAVAILABLE, 'draining');
      const err = await watch(client, '').ended();
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(local.watchCount).toBe(0);
    } finally {
      client.close();
      await stop(running);
    }
  });
});

describe('reflection', () => {
  it('finds the descriptor set', () => {
    expect(descriptorPath()).toMatch(/src[/\\]gen[/\\]descriptor\.binpb$/);
  });

  it.each(['grpc-v1', 'grpc-v1alpha'] as const)('lists our services and health over %s (buf curl)', async (protocol) => {
    const services = await listServices(main!.address, protocol);
    expect(services).toEqual(
      expect.arrayContaining([
        'orchestrator.v1.ChatService',
        'orchestrator.v1.ModelService',
        'orchestrator.v1.StatsService',
        'grpc.health.v1.Health',
      ]),
    );
  });

  it.each(['grpc-v1', 'grpc-v1alpha'] as const)('lists and describes the reflection services themselves over %s', async (protocol) => {
    const reflection = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
    expect(await listServices(main!.address, protocol)).toEqual(expect.arrayContaining(reflection));
    // Listing methods resolves each listed service through reflection: a service without its file fails it.
    expect(await listMethods(main!.address, protocol)).toEqual(
      expect.arrayContaining(reflection.map((service) => `${service}/ServerReflectionInfo`)),
    );
  });

  it('answers requests sent before the library has loaded, in order, and refuses an undecodable one', async () => {
    // A server of its own: the library loads on its first reflection call, so this one's first
    // messages arrive while it is still loading.
    const fresh = await start((server) => addReflection(server));
    const client = new grpc.Client(fresh.address, grpc.credentials.createInsecure());
    const raw = (bytes: Buffer): Buffer => bytes;
    try {
      const call = client.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', raw, raw);
      const replies: Buffer[] = [];
      call.on('data', (reply: Buffer) => replies.push(reply));
      const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('error', () => undefined);
      call.write(reflectionRequest('first', 7, '*'));
      call.write(reflectionRequest('second', 4, 'orchestrator.v1.ChatService'));
      call.end();
      expect((await ended).code).toBe(grpc.status.OK);
      expect(replies.map((reply) => stringField(reply, 1))).toEqual(['first', 'second']);
      const listed = nested(replies[0]!, 6).map((service) => stringField(service, 1));
      expect(listed).toEqual(expect.arrayContaining(['orchestrator.v1.ChatService', 'grpc.health.v1.Health']));
      expect(nested(replies[1]!, 4).length).toBeGreaterThan(0);

      const garbled = client.makeBidiStreamRequest('/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', raw, raw);
      const refused = new Promise<grpc.StatusObject>((resolve) => garbled.on('status', resolve));
      garbled.on('error', () => undefined);
      garbled.on('data', () => undefined);
      // Field 1's tag, with its length missing.
      garbled.write(Buffer.from([0x0a]));
      expect((await refused).code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      client.close();
      await stop(fresh);
    }
  });

  it('describes health well enough for buf curl to call Check', async () => {
    const { stdout } = await run(BUF, [
      'curl',
      '--protocol',
      'grpc',
      '--http2-prior-knowledge',
      '-d',
      '{}',
      `http://${main?.address}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: 'SERVING' });
  });
});
