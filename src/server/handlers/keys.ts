import type { Kysely } from 'kysely';
import { newApiKey } from '../../access/key-material.js';
import type { ApiKeyStore } from '../../access/keys.js';
import { invalidArgument, type FieldViolation } from '../../domain/errors.js';
import {
  apiKeyExists,
  apiKeyNotFound,
  apiKeyReadOnly,
  databaseOff,
  limitsNotShared,
  runtimeKeysUnavailable,
} from '../../domain/service-errors.js';
import type { ApiKeyBudgets, ApiKeyLimits, ApiKeyModels, ApiKeyScopes, ApiKeyServiceServer } from '../../gen/orchestrator/v1/keys.js';
import { findApiKey, insertApiKey, listApiKeys, revokeApiKey, updateApiKey, type StoredApiKey } from '../../store/api-keys.js';
import type { LedgerSchema } from '../../store/schema.js';
import { requireAdmin, withDatabase, type AdminAccess } from '../admin.js';
import type { CallDeps } from '../call.js';
import { encodeConfigKey, encodeRuntimeKey } from '../keys-encode.js';

export interface KeyAdminDeps {
  readonly keys: ApiKeyStore;
  readonly access: AdminAccess;
  /** The ledger database; undefined while unreachable or with DATABASE_URL=off. */
  readonly database: () => Kysely<LedgerSchema> | undefined;
  /** DATABASE_URL=off: no retry helps, unlike a database not reachable yet. */
  readonly databaseOff: boolean;
  /**
   * Applies a row just written to this replica's keys at once, then re-reads the table (the other
   * replicas apply it at their next refresh).
   */
  readonly wrote: (row: StoredApiKey) => Promise<void>;
  /** Why a key's limits and budgets would not be enforced as set (several workers without Redis); undefined when they would. */
  readonly unsharedLimits?: string | undefined;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SCOPES = new Set(['admin']);
const NAME_REQUIRED: FieldViolation = { field: 'name', description: 'required' };

/** ApiKeyService: runtime keys in the database; the config file's keys listed, read-only. */
export function apiKeyService(deps: CallDeps, admin: KeyAdminDeps): ApiKeyServiceServer {
  const db = (): Kysely<LedgerSchema> => {
    const open = admin.database();
    if (open) return open;
    throw admin.databaseOff ? databaseOff('runtime API keys') : runtimeKeysUnavailable();
  };

  /**
   * A runtime key that may be changed: existing, not revoked, and (unless `shadowed` is allowed)
   * not a name the config file gives too, whose entry is the one in force.
   */
  const changeable = async (name: string, shadowed: 'refused' | 'allowed'): Promise<StoredApiKey> => {
    const configured = admin.keys.byKeyName(name)?.source === 'config';
    if (configured && shadowed === 'refused') throw apiKeyReadOnly(name);
    const stored = await findApiKey(db(), name);
    if (!stored || stored.revokedAt !== undefined) {
      throw configured ? apiKeyReadOnly(name) : apiKeyNotFound(name, stored !== undefined);
    }
    return stored;
  };

  const enforceable = (parts: Pick<Parts, 'limits' | 'budgets'>): void => {
    const limited = [parts.limits?.requestsPerMinute, parts.limits?.tokensPerMinute, parts.budgets?.usdPerDay, parts.budgets?.usdPerMonth];
    if (admin.unsharedLimits !== undefined && limited.some((n) => n !== undefined)) throw limitsNotShared(admin.unsharedLimits);
  };

  return {
    createApiKey: withDatabase(deps, runtimeKeysUnavailable, async (req, ctx, peer) => {
      requireAdmin(admin.access, ctx, peer);
      const v: FieldViolation[] = [];
      if (!NAME.test(req.name)) v.push({ field: 'name', description: '1 to 64 characters: letters, digits, ".", "_", "-"' });
      const parts = decodeParts(req, v);
      if (v.length > 0) throw invalidArgument(v);
      enforceable(parts);
      if (admin.keys.byKeyName(req.name)) throw apiKeyExists(req.name);
      const material = newApiKey();
      const now = Date.now();
      const stored: StoredApiKey = {
        name: req.name,
        sha256: material.sha256,
        keyPrefix: material.prefix,
        allowedModels: parts.allowedModels ?? ['*'],
        limits: parts.limits ?? { requestsPerMinute: undefined, tokensPerMinute: undefined },
        budgets: parts.budgets ?? { usdPerDay: undefined, usdPerMonth: undefined },
        scopes: parts.scopes ?? [],
        createdAt: now,
        updatedAt: now,
        revokedAt: undefined,
      };
      if (!(await insertApiKey(db(), stored))) throw apiKeyExists(req.name);
      await admin.wrote(stored);
      ctx.log.info({ keyName: stored.name, by: ctx.principal?.name }, 'API key created');
      return { apiKey: encodeRuntimeKey(stored), key: material.key };
    }),

    listApiKeys: withDatabase(deps, runtimeKeysUnavailable, async (req, ctx, peer) => {
      requireAdmin(admin.access, ctx, peer);
      const configured = admin.keys
        .all()
        .filter((e) => e.source === 'config')
        .map(encodeConfigKey);
      const runtime = (await listApiKeys(db())).filter((k) => req.includeRevoked || k.revokedAt === undefined).map(encodeRuntimeKey);
      return { apiKeys: [...configured, ...runtime] };
    }),

    updateApiKey: withDatabase(deps, runtimeKeysUnavailable, async (req, ctx, peer) => {
      requireAdmin(admin.access, ctx, peer);
      const v: FieldViolation[] = req.name === '' ? [NAME_REQUIRED] : [];
      const parts = decodeParts(req, v);
      if (v.length > 0) throw invalidArgument(v);
      enforceable(parts);
      await changeable(req.name, 'refused');
      const updated = await updateApiKey(db(), req.name, parts, Date.now());
      // Revoked since `changeable` found it live (by another call or replica).
      if (!updated) throw apiKeyNotFound(req.name, true);
      await admin.wrote(updated);
      ctx.log.info({ keyName: req.name, by: ctx.principal?.name }, 'API key updated');
      return { apiKey: encodeRuntimeKey(updated) };
    }),

    revokeApiKey: withDatabase(deps, runtimeKeysUnavailable, async (req, ctx, peer) => {
      requireAdmin(admin.access, ctx, peer);
      if (req.name === '') throw invalidArgument([NAME_REQUIRED]);
      // A runtime key the config file's entry hides comes back when the file drops the name: it can be revoked meanwhile.
      await changeable(req.name, 'allowed');
      const revoked = await revokeApiKey(db(), req.name, Date.now());
      // Revoked since `changeable` found it live: that revoke is the one that happened, not this.
      if (!revoked) throw apiKeyNotFound(req.name, true);
      await admin.wrote(revoked);
      ctx.log.info({ keyName: req.name, by: ctx.principal?.name }, 'API key revoked');
      return { apiKey: encodeRuntimeKey(revoked) };
    }),
  };
}

interface Parts {
  allowedModels?: ApiKeyModels | undefined;
  limits?: ApiKeyLimits | undefined;
  budgets?: ApiKeyBudgets | undefined;
  scopes?: ApiKeyScopes | undefined;
}

/** The set parts of a create or update request, checked; a violation is added for each bad field. */
function decodeParts(req: Parts, v: FieldViolation[]) {
  const models = req.allowedModels?.patterns;
  if (models && (models.length === 0 || models.some((m) => m.trim() === ''))) {
    v.push({ field: 'allowed_models.patterns', description: 'one or more non-empty patterns ("*" allows every model)' });
  }
  const positiveInt = (field: string, n: number | undefined): void => {
    if (n !== undefined && !(Number.isInteger(n) && n > 0)) v.push({ field, description: `must be a positive whole number (got ${n})` });
  };
  positiveInt('limits.requests_per_minute', req.limits?.requestsPerMinute);
  positiveInt('limits.tokens_per_minute', req.limits?.tokensPerMinute);
  const positive = (field: string, n: number | undefined): void => {
    if (n !== undefined && !(Number.isFinite(n) && n > 0)) v.push({ field, description: `must be more than 0 (got ${n})` });
  };
  positive('budgets.usd_per_day', req.budgets?.usdPerDay);
  positive('budgets.usd_per_month', req.budgets?.usdPerMonth);
  (req.scopes?.scopes ?? []).forEach((s, i) => {
    if (!SCOPES.has(s)) v.push({ field: `scopes.scopes[${i}]`, description: `unknown scope "${s}" (known: admin)` });
  });
  return {
    allowedModels: models?.map((m) => m.trim()),
    limits: req.limits && { requestsPerMinute: req.limits.requestsPerMinute, tokensPerMinute: req.limits.tokensPerMinute },
    budgets: req.budgets && { usdPerDay: req.budgets.usdPerDay, usdPerMonth: req.budgets.usdPerMonth },
    scopes: req.scopes && [...new Set(req.scopes.scopes)],
  };
}
