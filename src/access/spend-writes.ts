import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { addTo, setBounded } from './bounded-map.js';

type Amounts = readonly (readonly [redisKey: string, usd: number])[];

const DAY_TTL_S = 2 * 86_400;
const MONTH_TTL_S = 32 * 86_400;
// The period is the counter name's last but one part: a key may itself be called "d" (llmo:budget:d:m:<month>).
const ttlOf = (redisKey: string): number => (/:d:[^:]*$/.test(redisKey) ? DAY_TTL_S : MONTH_TTL_S);

/**
 * Adds a write's amounts unless a write with its id already ran, so a write sent again after its
 * answer was lost (a Redis that answered too late) is counted once. The ids are kept per process in
 * one hash, and forgotten once their write's answer has come back.
 * KEYS: the ids hash, then the budget keys. ARGV: the write's id, the hash's ttl, how many ids to
 * forget, those ids, then per budget key its usd and ttl.
 */
const WRITE_SCRIPT = `
local forget = tonumber(ARGV[3])
for i = 1, forget do redis.call('HDEL', KEYS[1], ARGV[3 + i]) end
if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 1 then
  local at = 4 + forget
  for i = 2, #KEYS do
    redis.call('INCRBYFLOAT', KEYS[i], ARGV[at])
    redis.call('EXPIRE', KEYS[i], ARGV[at + 1])
    at = at + 2
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** Ids forgotten per write at most; the rest go with the next ones. */
const FORGET_PER_WRITE = 1_000;

/**
 * Spend written to Redis (INCRBYFLOAT), exactly once. What Redis did not take is kept and written
 * again by `flush`: amounts never sent are merged per budget key; a write that was sent but whose
 * answer never came (Redis answered after the command timeout, or the connection dropped) may have
 * run, so it is sent again under its own id, which Redis runs at most once.
 */
export class SpendWrites {
  /** Spend not known to be in Redis yet, per budget key: what reads add to Redis's figures. */
  readonly pending = new Map<string, number>();
  /** Never sent, per budget key. */
  private readonly unsent = new Map<string, number>();
  /** Sent without an answer, per write id. */
  private readonly doubtful = new Map<string, Amounts>();
  /** Writes whose answer came: their ids can leave the hash. */
  private answered: string[] = [];
  private readonly idsKey = `llmo:budget:writes:${randomUUID()}`;
  private flushing: Promise<void> | undefined;

  constructor(private readonly redis: Redis) {}

  /** Writes the amounts; false when Redis did not confirm them (they are kept for `flush`). */
  async write(amounts: Amounts): Promise<boolean> {
    const id = randomUUID();
    const outcome = await this.send(id, amounts);
    if (outcome === 'written') return true;
    for (const [key, usd] of amounts) {
      addTo(this.pending, key, usd);
      if (outcome === 'unsent') addTo(this.unsent, key, usd);
    }
    if (outcome === 'doubtful') this.keepDoubtful(id, amounts);
    return false;
  }

  get waiting(): boolean {
    return this.pending.size > 0;
  }

  /** Writes what Redis has not confirmed yet; what fails stays for the next flush. */
  flush(): Promise<void> {
    this.flushing ??= Promise.all([this.flushUnsent(), ...[...this.doubtful].map(([id, amounts]) => this.resend(id, amounts))])
      .then(() => undefined)
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushUnsent(): Promise<void> {
    const amounts = [...this.unsent.entries()];
    if (amounts.length === 0) return;
    const id = randomUUID();
    const outcome = await this.send(id, amounts);
    if (outcome === 'unsent') return;
    for (const [key, usd] of amounts) addTo(this.unsent, key, -usd);
    // Subtracted from pending only once written: a read in between counts them twice, never zero times.
    if (outcome === 'written') for (const [key, usd] of amounts) addTo(this.pending, key, -usd);
    else this.keepDoubtful(id, amounts);
  }

  private async resend(id: string, amounts: Amounts): Promise<void> {
    if ((await this.send(id, amounts)) !== 'written') return;
    if (!this.doubtful.delete(id)) return;
    for (const [key, usd] of amounts) addTo(this.pending, key, -usd);
  }

  private keepDoubtful(id: string, amounts: Amounts): void {
    const dropped = setBounded(this.doubtful, id, amounts);
    // Beyond the bound the oldest is taken as written.
    if (dropped) for (const [key, usd] of dropped[1]) addTo(this.pending, key, -usd);
  }

  private async send(id: string, amounts: Amounts): Promise<'written' | 'unsent' | 'doubtful'> {
    // Not connected: the client refuses the command without sending it, so it certainly did not run.
    const sent = this.redis.status === 'ready';
    const forget = this.answered.splice(0, FORGET_PER_WRITE);
    try {
      await this.redis.eval(
        WRITE_SCRIPT,
        1 + amounts.length,
        this.idsKey,
        ...amounts.map(([key]) => key),
        id,
        // A replica's hash outlives it by two days: a write sent again later than that is unlikely.
        String(DAY_TTL_S),
        String(forget.length),
        ...forget,
        ...amounts.flatMap(([key, usd]) => [String(usd), String(ttlOf(key))]),
      );
      this.answered.push(id);
      return 'written';
    } catch {
      // Forgetting an id twice is harmless; never forgetting one leaves it in the hash until it expires.
      this.answered.push(...forget);
      return sent ? 'doubtful' : 'unsent';
    }
  }
}
