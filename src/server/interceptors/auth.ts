import * as grpc from '@grpc/grpc-js';
import { OrchestratorError, Reason } from '../../domain/errors.js';
import type { ApiKeyStore } from '../../access/keys.js';
import { presentedKey } from '../../access/keys.js';
import { toGrpcStatus } from '../errors.js';
import { PRINCIPAL_KEY } from './metadata-keys.js';

/** Health checks and reflection stay open, so probes and tools work without a key. */
const OPEN_PREFIXES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];

/**
 * API keys, checked once for every call (not in each handler): `authorization: Bearer <key>`
 * or `x-api-key: <key>`. A known key's name travels to the handler in metadata; the key
 * itself goes no further than this function.
 */
export function authInterceptor(keys: ApiKeyStore): grpc.ServerInterceptor {
  return (method, call) => {
    const open = !keys.enabled || OPEN_PREFIXES.some((prefix) => method.path.startsWith(prefix));
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        metadata.remove(PRINCIPAL_KEY);
        if (open) {
          next(metadata);
          return;
        }
        const key = presentedKey(header(metadata, 'authorization'), header(metadata, 'x-api-key'));
        const entry = key === undefined ? undefined : keys.authenticate(key);
        // The secret must not reach handlers or logs.
        metadata.remove('authorization');
        metadata.remove('x-api-key');
        if (!entry) {
          const { code, details, metadata: trailers } = toGrpcStatus(
            new OrchestratorError({
              kind: 'unauthenticated',
              reason: Reason.API_KEY_INVALID,
              message: key === undefined ? 'an API key is required: send "authorization: Bearer <key>" or "x-api-key: <key>"' : 'unknown API key',
            }),
          );
          call.sendStatus({ code, details, metadata: trailers });
          return;
        }
        metadata.set(PRINCIPAL_KEY, entry.name);
        next(metadata);
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

function header(metadata: grpc.Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === 'string' ? value : undefined;
}
