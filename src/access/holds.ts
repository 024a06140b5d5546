/** A key's budgets; undefined: no limit for that period. */
export interface BudgetLimits {
  readonly usdPerDay: number | undefined;
  readonly usdPerMonth: number | undefined;
}

/** The outcome of `Budgets.reserve`: admitted with a hold to release, or which budget is spent. */
export type Reservation =
  | {
      readonly admitted: true;
      readonly spend: { readonly day: number; readonly month: number };
      readonly heldUsd: number;
      /** The call is over and its actual cost charged: its hold no longer counts. */
      release(): Promise<void>;
    }
  | {
      readonly admitted: false;
      readonly over: 'day' | 'month';
      readonly spend: { readonly day: number; readonly month: number };
      /** What calls in flight held when this one was refused. */
      readonly heldUsd: number;
    };

/** One hash per key name: hold id -> "usd expires-at-ms", shared by every replica. */
export function holdsKeyOf(keyName: string): string {
  return `llmo:budget:${keyName}:held`;
}

/**
 * Atomically: drop expired holds (a replica that died mid-call), sum the live ones, compare
 * spend plus holds with the budgets, and add this call's hold when both are below.
 * KEYS: day spend, month spend, holds. ARGV: now ms, day limit ('' none), month limit ('' none),
 * unsent day spend, unsent month spend, hold id, hold usd, expires at ms, hold ttl ms.
 * Returns {verdict ('ok', 'day', 'month'), day spend, month spend, held} as strings.
 */
export const HOLD_SCRIPT = `
local now = tonumber(ARGV[1])
local held = 0
local entries = redis.call('HGETALL', KEYS[3])
for i = 1, #entries, 2 do
  local usd, expires = string.match(entries[i + 1], '^(%S+) (%S+)$')
  if usd == nil or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[3], entries[i])
  else
    held = held + tonumber(usd)
  end
end
local day = tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[4])
local month = tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(ARGV[5])
local verdict = 'ok'
if ARGV[3] ~= '' and month + held >= tonumber(ARGV[3]) then
  verdict = 'month'
elseif ARGV[2] ~= '' and day + held >= tonumber(ARGV[2]) then
  verdict = 'day'
elseif tonumber(ARGV[7]) > 0 then
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[7] .. ' ' .. ARGV[8])
  -- Holds live as long as their calls' deadlines: a shorter one must not cut a longer one's life.
  if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[9]) then
    redis.call('PEXPIRE', KEYS[3], ARGV[9])
  end
end
return {verdict, tostring(day), tostring(month), tostring(held)}
`;
