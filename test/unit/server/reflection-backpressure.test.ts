import { Duplex } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { addReflection } from '../../../src/server/reflection.js';

/** The v1 ServerReflectionInfo handler, as addReflection registers it. */
function reflectionHandler(): (call: grpc.ServerDuplexStream<Buffer, Buffer>) => void {
  const handlers = new Map<string, (call: grpc.ServerDuplexStream<Buffer, Buffer>) => void>();
  const server = {
    addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
      for (const [name, definition] of Object.entries(service)) {
        handlers.set(definition.path, implementation[name] as (call: grpc.ServerDuplexStream<Buffer, Buffer>) => void);
      }
    },
  };
  addReflection(server as unknown as grpc.Server);
  const handler = handlers.get('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo');
  if (!handler) throw new Error('reflection not registered');
  return handler;
}

/** list_services (field 7), the smallest request with a reply. */
const LIST_SERVICES = Buffer.from(
  new BinaryWriter()
    .uint32((7 << 3) | 2)
    .string('*')
    .finish(),
);

/**
 * A reflection call whose client sends requests and does not read the replies: once one reply
 * is buffered for it, writes report a full buffer until `startReading()`.
 */
class UnreadCall extends Duplex {
  replies = 0;
  private held: (() => void) | undefined;
  private reading = false;

  constructor() {
    super({ objectMode: true, writableHighWaterMark: 1 });
  }

  override _read(): void {}

  override _write(_reply: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.replies += 1;
    if (this.reading) done();
    else this.held = done;
  }

  startReading(): void {
    this.reading = true;
    this.held?.();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('reflection and a client that does not read', () => {
  it('stops taking requests while the replies are not read, and answers them all once they are', { timeout: 20_000 }, async () => {
    const call = new UnreadCall();
    reflectionHandler()(call as unknown as grpc.ServerDuplexStream<Buffer, Buffer>);
    const requests = 2_000;
    for (let i = 0; i < requests; i++) call.push(LIST_SERVICES);
    // The library loads on the first call; then the requests are read, as far as they are read.
    for (let waited = 0; waited < 10_000 && call.replies === 0; waited += 50) await sleep(50);
    await sleep(300);
    const queued = call.replies + call.writableLength;
    expect(queued).toBeGreaterThan(0);
    // Replies pile up only as far as the stream's buffer, not one per request sent.
    expect(queued).toBeLessThan(50);

    call.startReading();
    for (let waited = 0; waited < 5_000 && call.replies < requests; waited += 50) await sleep(50);
    expect(call.replies).toBe(requests);
  });
});
