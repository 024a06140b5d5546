import type { KeyEntry } from '../access/keys.js';
import { ApiKeySource, type ApiKey, type ApiKeyBudgets, type ApiKeyLimits } from '../gen/orchestrator/v1/keys.js';
import type { StoredApiKey } from '../store/api-keys.js';
import { timestamp } from './encode.js';

/** A key as ListApiKeys shows it: never the key, never its hash. */

export function encodeConfigKey(e: KeyEntry): ApiKey {
  return {
    name: e.name,
    source: ApiKeySource.API_KEY_SOURCE_CONFIG_FILE,
    readOnly: true,
    allowedModels: [...e.spec.allowedModels],
    limits: limits(e.spec.limits),
    budgets: budgets(e.spec.budgets),
    scopes: [...e.scopes],
    keyPrefix: '',
  };
}

export function encodeRuntimeKey(k: StoredApiKey): ApiKey {
  return {
    name: k.name,
    source: ApiKeySource.API_KEY_SOURCE_RUNTIME,
    readOnly: false,
    allowedModels: [...k.allowedModels],
    limits: limits(k.limits),
    budgets: budgets(k.budgets),
    scopes: [...k.scopes],
    keyPrefix: k.keyPrefix,
    createTime: timestamp(k.createdAt),
    updateTime: timestamp(k.updatedAt),
    revokeTime: k.revokedAt === undefined ? undefined : timestamp(k.revokedAt),
  };
}

function limits(l: { requestsPerMinute: number | undefined; tokensPerMinute: number | undefined }): ApiKeyLimits {
  return { requestsPerMinute: l.requestsPerMinute, tokensPerMinute: l.tokensPerMinute };
}

function budgets(b: { usdPerDay: number | undefined; usdPerMonth: number | undefined }): ApiKeyBudgets {
  return { usdPerDay: b.usdPerDay, usdPerMonth: b.usdPerMonth };
}
