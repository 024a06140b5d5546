/**
 * gRPC server reflection (v1 and v1alpha) so `grpcurl` / `buf curl` work without .proto files.
 *
 * Fed from the `buf build` image (src/gen/descriptor.binpb): it holds our protos, grpc.health.v1
 * and google.rpc with their real file names and imports. The image's FileDescriptorProtos are
 * handed to @grpc/reflection byte for byte. Going through proto-loader instead
 * (loadSync, or loadFileDescriptorSetFromBuffer) merges every file of a package into one file
 * without its imports, and `buf curl` then cannot resolve orchestrator.v1.ChatService.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition, PackageDefinition } from '@grpc/proto-loader';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { ReflectionService } from '@grpc/reflection';

/**
 * Where descriptor.binpb sits, relative to this module, in each layout we run from:
 * - src/server/reflection.ts (tsx, vitest): ../gen/descriptor.binpb
 * - dist/server/reflection.js (`npm run build` copies the .binpb next to it): ../gen/descriptor.binpb,
 *   or ../../src/gen/descriptor.binpb from a checkout built with plain tsc
 */
const CANDIDATES = ['../gen/descriptor.binpb', '../../src/gen/descriptor.binpb'] as const;

/** The descriptor set's path in this layout; throws, naming every path tried, if it is missing. */
export function descriptorPath(): string {
  const tried = CANDIDATES.map((relative) => fileURLToPath(new URL(relative, import.meta.url)));
  const found = tried.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(`descriptor set not found (run npm run generate); tried: ${tried.join(', ')}`);
  }
  return found;
}

/** Adds grpc.reflection.v1 and v1alpha ServerReflection to the server. */
export function addReflection(server: grpc.Server, path: string = descriptorPath()): void {
  new ReflectionService(packageDefinitionOf(readFileSync(path))).addToServer(server);
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
