import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/access/redis.js';
import { eventually } from '../helpers/eventually.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/**
 * A Redis that answers but refuses writes: its `maxmemory` reached under the default `noeviction`
 * policy (the response cache can fill it). Limits and budgets then fall back per
 * REDIS_FAILURE_POLICY as for an unreachable Redis, and the replica must say why, once.
 */
describe('a Redis that refuses writes (maxmemory reached)', () => {
  let redis: RedisProcess;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  }, 20_000);
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it('is logged once, with Redis’s own reason, not once per command and not never', async () => {
    const lines: { level: number; msg: string; err?: string }[] = [];
    const client = await connectRedis(redis.url, pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }));
    try {
      await admin.set('filler', 'x'.repeat(3_000_000));
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1mb');
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++) {
        // What the limiters and budgets send: scripts that write; and the cache's reads, which still work.
        outcomes.push(
          await client.eval("return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])", 1, `llmo:budget:k${i}:d`, '0.5').then(
            () => 'ok',
            (err: Error) => err.message.split(' ')[0] ?? '',
          ),
        );
        await client.get('llmo:cache:nothing');
      }
      expect(outcomes.every((o) => o === 'OOM')).toBe(true);
      const refusals = lines.filter((l) => l.level === 40);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]?.msg).toContain('REDIS_FAILURE_POLICY');
      expect(refusals[0]?.err).toContain('OOM');
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      client.disconnect();
    }
  });
});

/**
 * A REDIS_URL naming a database past the server's `databases` setting (16 by default): Redis
 * refuses the SELECT, and the client would go on, on database 0, sharing state with whatever
 * else lives there.
 */
describe('a REDIS_URL naming a database the server does not have', () => {
  let redis: RedisProcess;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  }, 20_000);
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it('is a configuration error at start-up, and nothing is written to database 0', async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const connecting = connectRedis(`${redis.url}/99`, log);
    await expect(connecting).rejects.toMatchObject({
      name: 'ConfigError',
      problems: [
        expect.stringMatching(
          /^REDIS_URL: redis:\/\/127\.0\.0\.1:\d+\/99 names a database this Redis does not have \(ERR DB index is out of range\)/,
        ),
      ],
    });
    // The gateway stops: no line says Redis is away or that it serves on under REDIS_FAILURE_POLICY.
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(await admin.dbsize()).toBe(0);
  });

  it('a server restarted with fewer databases is an error of its own, and is not used until the gateway restarts', async () => {
    const lines: { level: number; msg: string; err?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const client = await connectRedis(`${redis.url}/3`, log);
    try {
      admin.disconnect();
      await redis.stop();
      await redis.start(['--databases', '2']);
      const refused = await eventually(
        async () => lines.find((l) => l.level === 50),
        (line) => line !== undefined,
      );
      expect(refused?.msg).toContain('REDIS_FAILURE_POLICY');
      expect(refused?.err).toContain('DB index is out of range');
      expect(client.status).not.toBe('ready');
    } finally {
      client.disconnect();
      await redis.stop();
      await redis.start();
      admin = new Redis(redis.url);
    }
  });

  it('a database the server has connects as before', async () => {
    const client = await connectRedis(`${redis.url}/15`, pino({ level: 'silent' }));
    try {
      await client.set('on-15', '1');
      expect(await admin.dbsize()).toBe(0);
      await admin.select(15);
      expect(await admin.get('on-15')).toBe('1');
    } finally {
      client.disconnect();
    }
  });
});
