import { Counter, Gauge, type Registry } from 'prom-client';
import { extend } from '../domain/extend.js';

/**
 * Metrics whose hot path is plain arithmetic on a cell the caller keeps, one cell per label
 * set: prom-client hashes a label object into a string and validates it on every `inc` and
 * `observe`, which on a dozen updates per call was a measurable share of a call's allocation.
 * Here the label set is resolved once (the caller caches its cells), and prom-client sees the
 * numbers only at scrape time, so /metrics reads exactly as before: same names, labels (in the
 * same order: each cell keeps the label object the metric first saw), values and series order.
 */

export type Labels = Readonly<Record<string, string>>;

/** A label set's running value: a counter's total, a gauge's level. */
export class ValueCell {
  value = 0;
  /** First touched: the series exists from then on, in that order, as prom-client's would. */
  touched = false;
  constructor(readonly labels: Labels) {}
}

interface Cells<C> {
  readonly byKey: Map<string, C>;
  /** In the order of first touch: the order prom-client would have created the series. */
  readonly order: C[];
}

function cellOf<C extends { readonly labels: Labels }>(cells: Cells<C>, labels: Labels, make: (labels: Labels) => C): C {
  // Only at a label set's first sight: the caller keeps the cell.
  const key = Object.values(labels).join('\u0000');
  let cell = cells.byKey.get(key);
  if (!cell) {
    cell = make(labels);
    cells.byKey.set(key, cell);
  }
  return cell;
}

/** Drops the series whose labels match: the next touch of such a label set starts a new one. */
function dropCells<C extends { readonly labels: Labels }>(cells: Cells<C>, match: (labels: Labels) => boolean): void {
  for (const [key, cell] of cells.byKey) if (match(cell.labels)) cells.byKey.delete(key);
  const kept = cells.order.filter((cell) => !match(cell.labels));
  cells.order.splice(0, cells.order.length, ...kept);
}

/** A counter (`kind: 'counter'`) or a gauge that moves up and down (`'gauge'`), folded in at scrape. */
export class ValueCells {
  private readonly cells: Cells<ValueCell> = { byKey: new Map(), order: [] };
  private readonly exposed: (value: number) => number;

  constructor(
    registry: Registry,
    options: {
      kind: 'counter' | 'gauge';
      name: string;
      help: string;
      labelNames: readonly string[];
      /** What a scrape shows of a running total (dollars: the grid every answer is on, so sums carry no float noise). */
      exposed?: (value: number) => number;
    },
  ) {
    const { kind, name, help, labelNames } = options;
    this.exposed = options.exposed ?? ((value) => value);
    if (kind === 'counter') {
      const metric: Counter<string> = new Counter({ name, help, labelNames, registers: [registry], collect: () => this.fold(metric) });
    } else {
      const metric: Gauge<string> = new Gauge({ name, help, labelNames, registers: [registry], collect: () => this.fold(metric) });
    }
  }

  cell(labels: Labels): ValueCell {
    return cellOf(this.cells, labels, (l) => new ValueCell(l));
  }

  drop(match: (labels: Labels) => boolean): void {
    dropCells(this.cells, match);
  }

  add(cell: ValueCell, amount = 1): void {
    if (!cell.touched) {
      cell.touched = true;
      this.cells.order.push(cell);
    }
    cell.value += amount;
  }

  private fold(metric: Counter<string> | Gauge<string>): void {
    metric.reset();
    // 0 + total is the total exactly: the series carries the same number as sequential increments.
    for (const cell of this.cells.order) metric.inc(cell.labels, this.exposed(cell.value));
  }
}

/** A label set's histogram: counts per bucket (the last one past every bound), sum, count. */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  touched = false;
  constructor(
    readonly labels: Labels,
    buckets: number,
  ) {
    this.counts = new Float64Array(buckets + 1);
  }
}

type HistogramValue = {
  labels: Record<string, string | number>;
  sharedLabels?: Labels;
  value: number;
  metricName: string;
  exemplar?: null;
};

/**
 * A histogram with prom-client's exposition: registered in the registry as a metric of its own
 * (the registry reads `get()` / `getForPromString()`), values laid out as prom-client's
 * Histogram lays them out (cumulative buckets with `le` first, +Inf, _sum, _count).
 */
export class HistogramCells {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private cells: Cells<HistogramCell> = { byKey: new Map(), order: [] };
  private readonly bounds: readonly number[];

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  cell(labels: Labels): HistogramCell {
    return cellOf(this.cells, labels, (l) => new HistogramCell(l, this.bounds.length));
  }

  observe(cell: HistogramCell, value: number): void {
    if (!Number.isFinite(value)) return;
    if (!cell.touched) {
      cell.touched = true;
      this.cells.order.push(cell);
    }
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    cell.counts[i]! += 1;
    cell.sum += value;
    cell.count += 1;
  }

  reset(): void {
    this.cells = { byKey: new Map(), order: [] };
  }

  drop(match: (labels: Labels) => boolean): void {
    dropCells(this.cells, match);
  }

  getForPromString(): { name: string; help: string; type: string; values: HistogramValue[]; aggregator: string } {
    const values: HistogramValue[] = [];
    for (const cell of this.cells.order) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.counts[i]!;
        values.push({ labels: { le }, sharedLabels: cell.labels, value: cumulative, metricName: `${this.name}_bucket`, exemplar: null });
      });
      values.push({
        labels: { le: '+Inf' },
        sharedLabels: cell.labels,
        value: cell.count,
        metricName: `${this.name}_bucket`,
        exemplar: null,
      });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** As prom-client's Histogram.get(): the shared labels laid into each value's own (cluster aggregation reads this). */
  get(): { name: string; help: string; type: string; values: HistogramValue[]; aggregator: string } {
    const data = this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) =>
      extend(rest, { labels: extend(labels ?? {}, sharedLabels ?? {}) }),
    );
    return data;
  }
}
