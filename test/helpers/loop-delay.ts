import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';

const RESOLUTION_MS = 10;

/** The longest the event loop was held while `run` ran, in ms. */
export async function loopHeldMs(run: () => Promise<unknown>): Promise<number> {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  try {
    await run();
    // The monitor samples on a timer, so a block just before `run` settled shows only in the
    // sample after it: stopping at once would miss it.
    const samples = delay.count;
    while (delay.count === samples) await new Promise((r) => setTimeout(r, RESOLUTION_MS));
  } finally {
    delay.disable();
  }
  return delay.max / 1e6;
}

/**
 * The least of up to `runs` measures (`loopHeldMs`, say), stopping at the first under `boundMs`.
 * Work the code does on the loop shows in every run; a stall from a busy machine's scheduler or
 * garbage collector comes at random, so one run over the bound proves nothing by itself.
 */
export async function calmestMs(measure: () => Promise<number>, boundMs: number, runs = 3): Promise<number> {
  let least = await measure();
  for (let run = 1; run < runs && least >= boundMs; run++) least = Math.min(least, await measure());
  return least;
}

/**
 * The fastest of three runs of `work`, in ms: what decoding or parsing a request costs on this
 * machine now, the yardstick for what the gateway may add to it whatever else the machine is doing.
 */
export function fastestMs(work: () => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    work();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

/** A unary call with the request as encoded bytes, so no client-side encoding runs on the loop being measured. */
export function unaryBytes(port: number, method: string, bytes: Uint8Array): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const same = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, same, same, Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err) => {
      client.close();
      resolve(err ?? undefined);
    });
  });
}
