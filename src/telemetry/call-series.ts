import type { StartedCall } from '../engine/index.js';
import type { HistogramCells, HistogramCell, ValueCells, ValueCell } from './metric-cells.js';
import { extend } from '../domain/extend.js';

/** Keeps the first `max` distinct values of a label; any further value is reported as "other". */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }

  /** The value is no longer in use: its place goes to the next new one. False: it was never kept (it is "other"). */
  forget(value: string): boolean {
    return this.seen.delete(value);
  }

  values(): IterableIterator<string> {
    return this.seen.values();
  }
}

/** The per-call metrics (grpc_server_*, in-flight, open streams, overhead, duration by model). */
export interface CallMetrics {
  readonly started: ValueCells;
  readonly handled: ValueCells;
  readonly handling: HistogramCells;
  readonly handlingByModel: HistogramCells;
  readonly inFlight: ValueCells;
  readonly openStreams: ValueCells;
  readonly overhead: HistogramCells;
}

/** Every series one method moves, through one door: resolved at its first call, then plain arithmetic. */
export class CallSeries {
  readonly started: ValueCell;
  readonly inFlight: ValueCell;
  readonly openStreams: ValueCell;
  readonly handling: HistogramCell;
  readonly overhead: HistogramCell;
  private readonly handled = new Map<string, ValueCell>();
  private readonly byModel = new Map<string, HistogramCell>();
  private readonly where: { grpc_service: string; grpc_method: string; protocol: string };

  readonly protocol: StartedCall['protocol'];
  readonly kind: StartedCall['kind'];

  constructor(
    private readonly metrics: CallMetrics,
    private readonly labels: {
      grpc_service: string;
      grpc_method: string;
      grpc_type: StartedCall['kind'];
      protocol: StartedCall['protocol'];
    },
  ) {
    this.protocol = labels.protocol;
    this.kind = labels.grpc_type;
    this.where = { grpc_service: labels.grpc_service, grpc_method: labels.grpc_method, protocol: labels.protocol };
    this.started = metrics.started.cell(labels);
    this.inFlight = metrics.inFlight.cell(this.where);
    this.openStreams = metrics.openStreams.cell(this.where);
    this.handling = metrics.handling.cell(labels);
    this.overhead = metrics.overhead.cell(this.where);
  }

  handledAs(code: string): ValueCell {
    let cell = this.handled.get(code);
    if (!cell) {
      const { grpc_service, grpc_method, grpc_type, protocol } = this.labels;
      cell = this.metrics.handled.cell({ grpc_service, grpc_method, grpc_type, grpc_code: code, protocol });
      this.handled.set(code, cell);
    }
    return cell;
  }

  forgetModel(model: string): void {
    this.byModel.delete(model);
  }

  /** `model`: the bounded label value. */
  byModelAs(model: string): HistogramCell {
    let cell = this.byModel.get(model);
    if (!cell) {
      const { grpc_service, grpc_method, protocol } = this.labels;
      cell = this.metrics.handlingByModel.cell({ grpc_service, grpc_method, model, protocol });
      this.byModel.set(model, cell);
    }
    return cell;
  }
}

/** The per-attempt metrics (llm_orchestrator_upstream_*, tokens, cost). */
export interface AttemptMetrics {
  readonly attempts: ValueCells;
  readonly attemptLatency: HistogramCells;
  readonly retries: ValueCells;
  readonly tokens: ValueCells;
  readonly cost: ValueCells;
}

/** Every series the attempts of one model endpoint (provider, model) move. */
export class AttemptSeries {
  readonly retries: ValueCell;
  readonly input: ValueCell;
  readonly output: ValueCell;
  readonly cost: ValueCell;
  private readonly byOutcome = new Map<string, { count: ValueCell; latency: HistogramCell }>();

  constructor(
    private readonly metrics: AttemptMetrics,
    private readonly labels: { provider: string; model: string },
  ) {
    this.retries = metrics.retries.cell(labels);
    this.input = metrics.tokens.cell(extend(labels, { type: 'input' }));
    this.output = metrics.tokens.cell(extend(labels, { type: 'output' }));
    this.cost = metrics.cost.cell(labels);
  }

  outcome(outcome: string): { count: ValueCell; latency: HistogramCell } {
    let cells = this.byOutcome.get(outcome);
    if (!cells) {
      const labels = extend(this.labels, { outcome });
      cells = { count: this.metrics.attempts.cell(labels), latency: this.metrics.attemptLatency.cell(labels) };
      this.byOutcome.set(outcome, cells);
    }
    return cells;
  }
}
