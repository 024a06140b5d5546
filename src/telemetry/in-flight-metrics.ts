import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type GatewayEvent, type InFlightReading, waitedForSlot } from '../engine/index.js';

type QueueEvent = Extract<GatewayEvent, { type: 'upstream_queue' }>;

/** Seconds a call waited for a slot under its provider's cap on requests in flight. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The per-provider cap on upstream requests in flight: slots taken, calls waiting, waits, refusals. */
export class InFlightMetrics {
  private source: (() => Iterable<InFlightReading>) | undefined;
  private readonly inFlight: Gauge<'provider'>;
  private readonly queued: Gauge<'provider'>;
  private readonly waits: Histogram<'provider' | 'outcome'>;
  private readonly rejected: Counter<'provider'>;

  constructor(
    registry: Registry,
    private readonly label: (provider: string) => string,
  ) {
    this.inFlight = new Gauge({
      name: 'llm_orchestrator_upstream_in_flight',
      help: 'Upstream requests in flight per provider (a stream holds its slot until it ends).',
      labelNames: ['provider'],
      registers: [registry],
      collect: () => this.collect(),
    });
    this.queued = new Gauge({
      name: 'llm_orchestrator_upstream_queued',
      help: "Calls waiting for a slot under their provider's cap on requests in flight.",
      labelNames: ['provider'],
      registers: [registry],
    });
    this.waits = new Histogram({
      name: 'llm_orchestrator_upstream_queue_wait_seconds',
      help: 'Time calls waited for a slot, by how the wait ended: admitted, rejected (PROVIDER_BUSY), cancelled.',
      labelNames: ['provider', 'outcome'],
      buckets: WAIT_BUCKETS,
      registers: [registry],
    });
    this.rejected = new Counter({
      name: 'llm_orchestrator_upstream_rejected_total',
      help: "Calls refused a slot (RESOURCE_EXHAUSTED, PROVIDER_BUSY): the provider's queue was full or no slot freed before the deadline.",
      labelNames: ['provider'],
      registers: [registry],
    });
  }

  watch(source: () => Iterable<InFlightReading>): void {
    this.source = source;
  }

  on(event: QueueEvent): void {
    const provider = this.label(event.provider);
    if (waitedForSlot(event)) this.waits.observe({ provider, outcome: event.outcome }, event.waitedMs / 1000);
    if (event.outcome === 'rejected') this.rejected.inc({ provider });
  }

  private collect(): void {
    if (!this.source) return;
    this.inFlight.reset();
    this.queued.reset();
    for (const reading of this.source()) {
      // Added, not set: providers past the label cap share the "other" series.
      const provider = this.label(reading.provider);
      this.inFlight.inc({ provider }, reading.inFlight);
      this.queued.inc({ provider }, reading.queued);
    }
  }
}
