/**
 * gRPC server reflection (v1 and v1alpha) so `grpcurl` / `buf curl` work without .proto files.
 *
 * Fed from the `buf build` image (src/gen/descriptor.binpb): it holds our protos, grpc.health.v1
 * and google.rpc with their real file names and imports. The image's FileDescriptorProtos are
 * handed to @grpc/reflection byte for byte. Going through proto-loader instead
 * (loadSync, or loadFileDescriptorSetFromBuffer) merges every file of a package into one file
 * without its imports, and `buf curl` then cannot resolve orchestrator.v1.ChatService.
 *
 * Loaded on the first reflection call, not at start-up: @grpc/reflection brings protobufjs and
 * proto-loader, parses its own .proto files and decodes every descriptor of the image twice (v1
 * and v1alpha), a few megabytes that a gateway nobody inspects with grpcurl never needs. The two
 * methods are registered at once with byte-for-byte codecs; the first call loads the library,
 * and every call's messages go through the library's own codecs and handler.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition, PackageDefinition } from '@grpc/proto-loader';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { extend } from '../domain/extend.js';

/**
 * Where descriptor.binpb sits, relative to this module, in each layout we run from:
 * - src/server/reflection.ts (tsx, vitest): ../gen/descriptor.binpb
 * - dist/server/reflection.js (`npm run build` copies the .binpb next to it): ../gen/descriptor.binpb,
 *   or ../../src/gen/descriptor.binpb from a checkout built with plain tsc
 */
const CANDIDATES = ['../gen/descriptor.binpb', '../../src/gen/descriptor.binpb'] as const;

/** The two reflection services, as the library names them (v1alpha is the same protocol). */
const SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'] as const;
const METHOD = 'ServerReflectionInfo';

/** The library's own protos of those services, which it ships and loads to serve them. */
const REFLECTION_PROTOS = ['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'];

/** The descriptor set's path in this layout; throws, naming every path tried, if it is missing. */
export function descriptorPath(): string {
  const tried = CANDIDATES.map((relative) => fileURLToPath(new URL(relative, import.meta.url)));
  const found = tried.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(`descriptor set not found (run npm run generate); tried: ${tried.join(', ')}`);
  }
  return found;
}

/** One reflection method as the library serves it: its codecs and its bidi handler. */
interface LoadedMethod {
  readonly definition: grpc.MethodDefinition<object, object>;
  readonly handler: (stream: ReflectionStream) => void;
}

/** What the library's handler uses of a grpc-js duplex call. */
interface ReflectionStream extends EventEmitter {
  write(message: object): boolean;
  end(): void;
}

/**
 * Adds grpc.reflection.v1 and v1alpha ServerReflection to the server. The descriptor set must
 * exist now (a missing one fails start-up, not the first grpcurl); it is read on first use.
 */
export function addReflection(server: grpc.Server, path: string = descriptorPath()): void {
  if (!existsSync(path)) throw new Error(`descriptor set not found: ${path}`);
  let loading: Promise<ReadonlyMap<string, LoadedMethod>> | undefined;
  const load = (): Promise<ReadonlyMap<string, LoadedMethod>> => {
    loading ??= loadReflection(path);
    return loading;
  };
  for (const service of SERVICES) {
    const methodPath = `/${service}/${METHOD}`;
    const definition: grpc.ServiceDefinition = {
      [METHOD]: {
        path: methodPath,
        requestStream: true,
        responseStream: true,
        requestSerialize: passThrough,
        requestDeserialize: passThrough,
        responseSerialize: passThrough,
        responseDeserialize: passThrough,
      },
    };
    server.addService(definition, {
      [METHOD]: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        // Messages that arrive while the library loads wait in the call's readable buffer.
        load().then(
          (methods) => serve(call, methods.get(methodPath)),
          () => call.emit('error', { code: grpc.status.INTERNAL, details: 'reflection is unavailable' }),
        );
      },
    });
  }
}

const passThrough = (bytes: Buffer): Buffer => bytes;

async function loadReflection(path: string): Promise<ReadonlyMap<string, LoadedMethod>> {
  const [{ ReflectionService }, { loadSync }] = await Promise.all([import('@grpc/reflection'), import('@grpc/proto-loader')]);
  const methods = new Map<string, LoadedMethod>();
  // The library registers its services itself; this server stand-in keeps what it registers.
  const collector: Pick<grpc.Server, 'addService'> = {
    addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
      for (const [name, definition] of Object.entries(service)) {
        methods.set(definition.path, { definition, handler: implementation[name] as unknown as LoadedMethod['handler'] });
      }
    },
  };
  // The library lists only the services of the descriptors it is given, and the image does not
  // hold reflection's own: without them ListServices left out the reflection services this
  // server answers on (grpc-go and grpc-java list them), and clients could not describe them.
  // Each has one file without imports, so proto-loader's one-file-per-package form loses nothing.
  const protoDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const reflectionFiles = loadSync(REFLECTION_PROTOS, { includeDirs: [protoDir] });
  new ReflectionService(extend(packageDefinitionOf(readFileSync(path)), reflectionFiles)).addToServer(collector);
  return methods;
}

/** Runs the library's handler on a call whose messages are bytes: decoded in, encoded out. */
function serve(call: grpc.ServerDuplexStream<Buffer, Buffer>, method: LoadedMethod | undefined): void {
  if (!method) {
    call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'reflection method not served' });
    return;
  }
  const { definition } = method;
  const stream = Object.assign(new EventEmitter(), {
    // The library answers each request as it comes, whatever the client reads: while the replies
    // are not read the call takes no more requests, or a client that only sends would have its
    // replies pile up in memory without end (reflection needs no key).
    write: (message: object): boolean => {
      const flowing = call.write(definition.responseSerialize(message));
      if (!flowing && !call.isPaused()) {
        call.pause();
        call.once('drain', () => call.resume());
      }
      return flowing;
    },
    end: (): void => {
      call.end();
    },
  });
  method.handler(stream);
  call.on('data', (bytes: Buffer) => {
    let request: object;
    try {
      request = definition.requestDeserialize(bytes);
    } catch {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'undecodable ServerReflectionRequest' });
      return;
    }
    stream.emit('data', request);
  });
  // The library listens for data and end only: a cancelled call just stops sending data, and
  // grpc-js drops writes to a call that has ended, so there is nothing else to forward.
  call.on('end', () => stream.emit('end'));
}

/**
 * @grpc/reflection only reads `fileDescriptorProtos` from the package definition it is given,
 * so one entry carrying every file of the image is all it needs.
 */
function packageDefinitionOf(image: Uint8Array): PackageDefinition {
  const files = { fileDescriptorProtos: splitFileDescriptorSet(image) } satisfies Pick<
    MessageTypeDefinition<object, object>,
    'fileDescriptorProtos'
  >;
  // The entry is not a usable message type (no serializers); only reflection ever sees it.
  return { 'descriptor.binpb': files } as unknown as PackageDefinition;
}

/** FileDescriptorSet is `repeated FileDescriptorProto file = 1`: one length-delimited field per file. */
export function splitFileDescriptorSet(image: Uint8Array): Buffer[] {
  const reader = new BinaryReader(image);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(Buffer.from(reader.bytes()));
    else reader.skip(wireType);
  }
  return files;
}
