import type * as grpc from '@grpc/grpc-js';
import type { OrchestratorError } from '../../domain/errors.js';
import type { Principal } from '../../domain/principal.js';
import type { ApiKeyStore } from '../../access/keys.js';
import { presentedKey } from '../../access/keys.js';

/** Health checks and reflection stay open, so probes and tools work without a key. */
const OPEN_PREFIXES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];

export type Authentication =
  | { readonly ok: true; readonly principal: Principal | undefined }
  | { readonly ok: false; readonly error: OrchestratorError };

/**
 * API keys, checked once for every call (not in each handler): `authorization: Bearer <key>`
 * or `x-api-key: <key>`. The key itself goes no further than this function: it is removed
 * from the metadata handlers and logs see.
 */
export function authenticate(keys: ApiKeyStore, path: string, metadata: grpc.Metadata): Authentication {
  if (!keys.enabled || OPEN_PREFIXES.some((prefix) => path.startsWith(prefix))) return { ok: true, principal: undefined };
  const key = presentedKey(header(metadata, 'authorization'), header(metadata, 'x-api-key'));
  metadata.remove('authorization');
  metadata.remove('x-api-key');
  const entry = key === undefined ? undefined : keys.authenticate(key);
  return entry ? { ok: true, principal: entry } : { ok: false, error: keys.refusal(key !== undefined) };
}

function header(metadata: grpc.Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === 'string' ? value : undefined;
}
