import { describe, expect, it } from 'vitest';
import { OrchestratorError } from '../../../src/domain/errors.js';
import { EventBus, type GatewayEvent } from '../../../src/engine/index.js';
import { InFlightGate, InFlightGates } from '../../../src/engine/resilience/in-flight.js';

const far = () => Date.now() + 60_000;

function gate(maxInFlight: number, queueMax: number) {
  const events: GatewayEvent[] = [];
  return { gate: new InFlightGate('p', { maxInFlight, queueMax }, new EventBus((e) => events.push(e))), events };
}

describe('InFlightGate', () => {
  it('hands slots out at once below the cap, then to waiters first come, first served', async () => {
    const { gate: g } = gate(1, 5);
    const first = g.acquire(new AbortController().signal, far());
    expect(typeof first).toBe('function');
    const order: string[] = [];
    const a = Promise.resolve(g.acquire(new AbortController().signal, far())).then((r) => {
      order.push('a');
      return r;
    });
    const b = Promise.resolve(g.acquire(new AbortController().signal, far())).then((r) => {
      order.push('b');
      return r;
    });
    expect(g.reading()).toMatchObject({ inFlight: 1, queued: 2 });
    (first as () => void)();
    const releaseA = await a;
    expect(g.reading()).toMatchObject({ inFlight: 1, queued: 1 });
    releaseA();
    releaseA(); // a second release gives nothing back twice
    (await b)();
    expect(order).toEqual(['a', 'b']);
    expect(g.reading()).toMatchObject({ inFlight: 0, queued: 0, waitedTotal: 2, rejectedTotal: 0 });
  });

  it('refuses with PROVIDER_BUSY when the queue is full, with a retry hint', () => {
    const { gate: g, events } = gate(1, 0);
    expect(typeof g.acquire(new AbortController().signal, far())).toBe('function');
    let error: unknown;
    try {
      expect(g.acquire(new AbortController().signal, far())).toBe('never reached');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OrchestratorError);
    expect(error).toMatchObject({ kind: 'resource_exhausted', reason: 'PROVIDER_BUSY', metadata: { why: 'queue_full', provider: 'p' } });
    expect((error as OrchestratorError).retryAfterMs).toBeGreaterThan(0);
    expect(events).toContainEqual(expect.objectContaining({ type: 'upstream_queue', outcome: 'rejected' }));
  });

  it('a cancelled waiter leaves the queue at once, so it does not keep a live caller out', async () => {
    const { gate: g } = gate(1, 1);
    const held = g.acquire(new AbortController().signal, far()) as () => void;
    const cancel = new AbortController();
    const waiting = Promise.resolve(g.acquire(cancel.signal, far()));
    cancel.abort(new Error('caller went away'));
    await expect(waiting).rejects.toMatchObject({ kind: 'cancelled' });
    expect(g.reading().queued).toBe(0);
    const next = Promise.resolve(g.acquire(new AbortController().signal, far()));
    held();
    expect(typeof (await next)).toBe('function');
  });

  it('refuses a waiter a little before its deadline instead of letting the deadline hit', async () => {
    const { gate: g } = gate(1, 1);
    expect(typeof g.acquire(new AbortController().signal, far())).toBe('function');
    const started = Date.now();
    await expect(Promise.resolve(g.acquire(new AbortController().signal, Date.now() + 200))).rejects.toMatchObject({
      reason: 'PROVIDER_BUSY',
      metadata: { why: 'deadline' },
    });
    expect(Date.now() - started).toBeLessThan(200);
    expect(g.reading()).toMatchObject({ queued: 0, rejectedTotal: 1 });
  });

  it('0 means no cap', () => {
    const { gate: g } = gate(0, 0);
    for (let i = 0; i < 1_000; i++) expect(typeof g.acquire(new AbortController().signal, far())).toBe('function');
    expect(g.reading().inFlight).toBe(1_000);
  });
});

describe('InFlightGates', () => {
  it("a provider's own limits override the defaults, field by field", () => {
    const gates = new InFlightGates(
      { defaults: { maxInFlight: 10, queueMax: 20 }, perProvider: new Map([['local', { maxInFlight: 2, queueMax: undefined }]]) },
      new EventBus(),
    );
    expect(gates.for('local').limits).toEqual({ maxInFlight: 2, queueMax: 20 });
    expect(gates.for('openai').limits).toEqual({ maxInFlight: 10, queueMax: 20 });
  });
});
