import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { Metrics } from '../../../src/telemetry/metrics.js';

/**
 * deploy/grafana and deploy/prometheus: the dashboard and the alert rules query only metrics the
 * gateway exports (names read from the exporter itself), and the rule file has the shape
 * `promtool check rules` accepts (promtool is not installed here: its schema, written out).
 */
const DASHBOARD = 'deploy/grafana/dashboards/llm-orchestrator.json';
const RULES = 'deploy/prometheus/alerts.yaml';

/** Every series name /metrics can show: counters as named, histograms with their three series. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new Metrics();
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
    else names.add(m.name);
  }
  return names;
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
  'le',
]);

/** The metric names a PromQL expression selects: strings, label matchers, ranges, grouping lists and numbers removed, functions left out. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // Numbers (1e-9) and durations (5m) after `offset`.
    .replace(/(?<![A-Za-z0-9_:])\d[\d.]*(?:e[+-]?\d+)?(?:ms|[smhdwy])*/gi, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = bare.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const c of expr.replace(/"(?:[^"\\]|\\.)*"/g, '')) {
    if ('({['.includes(c)) depth++;
    if (')}]'.includes(c) && --depth < 0) return false;
  }
  return depth === 0;
}

// promtool's rule-file format (prometheus/model/rulefmt): unknown keys are errors there too.
const duration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))+$/);
const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
const recordingRule = z.strictObject({
  record: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/),
  expr: z.string().min(1),
  labels: z.record(labelName, z.string()).optional(),
});
const alertingRule = z.strictObject({
  alert: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/),
  expr: z.string().min(1),
  for: duration.optional(),
  keep_firing_for: duration.optional(),
  labels: z.record(labelName, z.string()).optional(),
  annotations: z.record(labelName, z.string()).optional(),
});
const ruleFile = z.strictObject({
  groups: z.array(
    z.strictObject({
      name: z.string().min(1),
      interval: duration.optional(),
      limit: z.number().int().min(0).optional(),
      query_offset: duration.optional(),
      labels: z.record(labelName, z.string()).optional(),
      rules: z.array(z.union([recordingRule, alertingRule])).min(1),
    }),
  ),
});

interface Panel {
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query?: unknown; definition?: string }[] };
};
const rules = ruleFile.parse(parse(readFileSync(RULES, 'utf8')));
const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => ('record' in r ? [r.record] : []))));
const dashboardExprs = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
  ...dashboard.templating.list.flatMap((v) =>
    v.definition ? [{ where: `variable ${v.name}`, expr: v.definition.replace(/^label_values\((\w+),.*$/, '$1') }] : [],
  ),
];
const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => ({ where: 'alert' in r ? r.alert : r.record, expr: r.expr })));

describe('the PromQL name extraction', () => {
  it('finds selected metrics and skips functions, labels, grouping and ranges', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, model) (rate(x_bucket{model=~"a|b",le!="1"}[5m]))) > 0.05 and on(job) y_total offset 5m / 1e-9',
      ),
    ).toEqual(['x_bucket', 'y_total']);
    expect(metricNames('vector(100)')).toEqual([]);
  });
});

describe('deploy/grafana dashboard', () => {
  it('is a Grafana dashboard with a fixed uid, and panels that do not overlap', () => {
    expect(dashboard.uid).toBe('llm-orchestrator');
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('queries only metrics the gateway exports', async () => {
    const exported = await exportedNames();
    const unknown = dashboardExprs.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !exported.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
    for (const { where, expr } of dashboardExprs) expect(balanced(expr), where).toBe(true);
  });

  it('covers what an operator looks for', () => {
    const all = dashboardExprs.map((e) => e.expr).join('\n');
    for (const metric of [
      'grpc_server_started_total', // traffic
      'grpc_server_handled_total', // errors by code
      'llm_orchestrator_access_rejections_total', // refusals by reason, rate limits
      'llm_orchestrator_call_duration_seconds_bucket', // latency by model
      'llm_orchestrator_time_to_first_token_seconds_bucket',
      'llm_orchestrator_gateway_overhead_seconds_bucket',
      'llm_orchestrator_circuit_breaker_state',
      'llm_orchestrator_upstream_retries_total',
      'llm_orchestrator_cache_lookups_total',
      'llm_orchestrator_cost_usd_total',
      'llm_orchestrator_open_streams',
    ]) {
      expect(all, metric).toContain(metric);
    }
    expect(all).toContain('reason="RATE_LIMITED"');
  });
});

describe('deploy/prometheus alert rules', () => {
  it('follow the rule-file format and use only exported or recorded metrics', async () => {
    const exported = await exportedNames();
    const unknown = ruleExprs.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !exported.has(n) && !recorded.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
    for (const { where, expr } of ruleExprs) expect(balanced(expr), where).toBe(true);
  });

  it('alert on error ratio, open breakers, overhead, budget, Redis and a stuck drain', () => {
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((r) => ('alert' in r ? [r.alert] : [])));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'LlmOrchestratorHighErrorRatio',
        'LlmOrchestratorCircuitBreakerOpen',
        'LlmOrchestratorGatewayOverheadHigh',
        'LlmOrchestratorBudgetNearlyExhausted',
        'LlmOrchestratorRedisDown',
        'LlmOrchestratorDrainStuck',
      ]),
    );
    expect(new Set(alerts).size).toBe(alerts.length);
  });

  it('rejects what promtool rejects: an unknown key, a bad duration', () => {
    expect(ruleFile.safeParse({ groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', for: '5 minutes' }] }] }).success).toBe(false);
    expect(ruleFile.safeParse({ groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', severity: 'page' }] }] }).success).toBe(false);
  });
});
