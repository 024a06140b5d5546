import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { connectRedis } from '../../src/access/redis.js';

/** A real redis-server on a free loopback port, for tests that share state between replicas. */
export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop), as a restarted Redis would come back, with any more server arguments. */
  start(args?: readonly string[]): Promise<void>;
  /** Stops the server without closing its connections (SIGSTOP), as a hung host or a network dropping packets looks. */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (args: readonly string[] = []): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server did not start; install it (apt-get install redis-server)')), 5_000);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run redis-server (${err.message}); install it: apt-get install redis-server`));
      });
      proc.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    async stop() {
      child?.kill('SIGCONT');
      // A process killed by a signal has no exit code, only its signal: stopped twice, it must not wait for a second exit.
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A real Redis shared by replicas: its URL and one client per replica. */
export interface RedisReplicas {
  url: string;
  clients: Redis[];
  /** As RedisProcess's: the server hangs (SIGSTOP) until thawed. */
  freeze(): void;
  thaw(): void;
}

/**
 * A real Redis for the describe block this is called in, and `count` clients of it (one per
 * replica), connected before its tests and closed after; the fields are set once they run.
 */
export function redisReplicas(count = 2): RedisReplicas {
  let redis: RedisProcess | undefined;
  const shared: RedisReplicas = { url: '', clients: [], freeze: () => redis?.freeze(), thaw: () => redis?.thaw() };
  beforeAll(async () => {
    redis = await startRedis();
    shared.url = redis.url;
    shared.clients = await Promise.all(Array.from({ length: count }, () => connectRedis(shared.url, pino({ level: 'silent' }))));
  }, 20_000);
  afterAll(async () => {
    for (const c of shared.clients) c.disconnect();
    await redis?.stop();
  });
  return shared;
}
