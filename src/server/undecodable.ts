import type * as grpc from '@grpc/grpc-js';
import { invalidArgument, type OrchestratorError } from '../domain/errors.js';
import { extend } from '../domain/extend.js';

/**
 * A request message that arrived but could not be decoded into our types: an int64 past 2^53
 * (the generated code reads int64 as a number, proto/buf.gen.yaml's forceLong), a field of the
 * wrong wire type. grpc-js answers a deserializer that throws with INTERNAL and no details, as
 * if it were our bug; the message is handed on as this instead, and refused as bad input.
 */
export class Undecodable {
  constructor(readonly reason: string) {}
}

/** `definition` with deserializers that hand on an Undecodable instead of throwing. */
export function tolerantRequests<D extends grpc.ServiceDefinition>(definition: D): D {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    out[name] = extend(method, {
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new Undecodable(err instanceof Error ? err.message : String(err));
        }
      },
    });
  }
  return out as D;
}

/** The INVALID_ARGUMENT error for a request that could not be decoded; undefined for a decoded one. */
export function undecodableError(request: unknown): OrchestratorError | undefined {
  if (!(request instanceof Undecodable)) return undefined;
  // The hint only where it applies: a message nested too deep or of the wrong wire type is not about integers.
  const hint = /SAFE_INTEGER/.test(request.reason) ? ' (integers must fit in 53 bits)' : '';
  return invalidArgument([{ field: 'request', description: `could not be read: ${request.reason}${hint}` }]);
}

/** Throws INVALID_ARGUMENT for a request that could not be decoded. */
export function checkDecoded(request: unknown): void {
  const err = undecodableError(request);
  if (err) throw err;
}
