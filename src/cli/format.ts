import {
  attemptOutcomeToJSON,
  circuitStateToJSON,
  complexityToJSON,
  finishReasonToJSON,
  routingProfileToJSON,
  type Attempt,
  type FinishReason,
  type RouteDecision,
  type Usage,
} from '../gen/orchestrator/v1/common.js';
import { type ModelInfo, ModelKind } from '../gen/orchestrator/v1/models.js';
import type { GetStatsResponse, LatencySummary, UpstreamStats } from '../gen/orchestrator/v1/stats.js';

/** What every answer (Chat, Race, Fallback, a completed stream) reports after its text. */
export interface AnswerFacts {
  readonly model: string;
  readonly provider: string;
  readonly usage?: Usage | undefined;
  readonly costUsd: number;
  readonly latencyMs: number;
  readonly finishReason: FinishReason;
  readonly attempts: readonly Attempt[];
  readonly requestId?: string;
  readonly routeDecision?: RouteDecision | undefined;
}

/** The counts that are part of the prompt's or the completion's, as a note after the usage line; none set: nothing. */
function usageParts(u: Usage | undefined): string {
  const parts = [
    u?.cachedTokens ? `${u.cachedTokens} cached` : '',
    u?.cacheWriteTokens ? `${u.cacheWriteTokens} written to cache` : '',
    u?.reasoningTokens ? `${u.reasoningTokens} reasoning` : '',
  ].filter((p) => p !== '');
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** The lines printed after an answer: who answered, usage, cost, latency, attempts. */
export function answerSummary(facts: AnswerFacts, options: { label?: string; extra?: readonly string[] } = {}): string {
  const u = facts.usage;
  const lines = [
    `${options.label ?? 'model'}: ${facts.model} (${facts.provider})`,
    `usage: ${u?.promptTokens ?? 0} prompt + ${u?.completionTokens ?? 0} completion = ${u?.totalTokens ?? 0} tokens` + usageParts(u),
    `cost: ${usd(facts.costUsd)}`,
    `latency: ${ms(facts.latencyMs)}`,
    `finish: ${enumName(finishReasonToJSON(facts.finishReason), 'FINISH_REASON_')}`,
    ...(options.extra ?? []),
  ];
  if (facts.routeDecision) lines.push(routeLine(facts.routeDecision));
  lines.push(...attemptLines(facts.attempts));
  if (facts.requestId) lines.push(`request id: ${facts.requestId}`);
  return `${lines.join('\n')}\n`;
}

export function attemptLines(attempts: readonly Attempt[]): string[] {
  return [
    `attempts: ${attempts.length}`,
    ...attempts.map((a, i) => {
      const outcome = enumName(attemptOutcomeToJSON(a.outcome), 'ATTEMPT_OUTCOME_');
      const why = a.reason && a.reason !== outcome ? ` ${a.reason}${a.message ? `: ${a.message}` : ''}` : '';
      const retry = a.retry > 0 ? ` (retry ${a.retry})` : '';
      return `  ${i + 1}. ${a.model} ${outcome}${why} ${ms(a.latencyMs)}${retry}`;
    }),
  ];
}

function routeLine(d: RouteDecision): string {
  const profile = enumName(routingProfileToJSON(d.profile), 'ROUTING_PROFILE_');
  const complexity = enumName(complexityToJSON(d.complexity), 'COMPLEXITY_');
  return `route: ${profile.toLowerCase()} profile, ${complexity.toLowerCase()} prompt, chose ${d.chosenModel}`;
}

export function modelsTable(models: readonly ModelInfo[]): string {
  const rows = models.map((m) => [
    m.id,
    m.provider,
    m.kind === ModelKind.MODEL_KIND_EMBEDDING ? 'embedding' : 'chat',
    String(m.contextWindow),
    // An embedding model answers with a vector, never with output tokens.
    m.kind === ModelKind.MODEL_KIND_EMBEDDING ? '-' : String(m.maxOutputTokens),
    m.inputPricePerMillion.toFixed(2),
    m.outputPricePerMillion.toFixed(2),
    m.available ? (m.simulated ? 'simulated' : 'yes') : 'no',
    enumName(circuitStateToJSON(m.breakerState), 'CIRCUIT_STATE_'),
    m.aliases.join(','),
  ]);
  return table(['MODEL', 'PROVIDER', 'KIND', 'CONTEXT', 'MAX OUT', 'IN $/M', 'OUT $/M', 'AVAILABLE', 'BREAKER', 'ALIASES'], rows);
}

export function statsText(s: GetStatsResponse): string {
  const lines = [
    `uptime: ${s.uptimeSeconds.toFixed(1)} s`,
    `requests: ${s.totalRequests} total, ${s.successfulRequests} ok, ${s.failedRequests} failed (error rate ${pct(s.errorRate)})`,
    `latency: ${latency(s.latency)}`,
    `time to first token: ${latency(s.timeToFirstToken)}`,
    `tokens: ${s.promptTokens} prompt, ${s.completionTokens} completion; cost ${usd(s.totalCostUsd)}`,
    `race wins: ${s.raceWins}, fallbacks triggered: ${s.fallbacksTriggered}, default messages: ${s.defaultMessagesServed}`,
    `retries: ${s.retries} (${s.retriesThrottled} throttled), stream restarts: ${s.streamRestarts}`,
    '',
    table(
      ['METHOD', 'REQUESTS', 'OK', 'ERRORS', 'P50', 'P99'],
      s.methods.map((m) => [
        m.method,
        String(m.requests),
        String(m.successes),
        String(m.errors),
        ms(m.latency?.p50Ms ?? 0),
        ms(m.latency?.p99Ms ?? 0),
      ]),
    ).trimEnd(),
    '',
    upstreamTable('MODEL', s.models, true).trimEnd(),
    '',
    upstreamTable('PROVIDER', s.providers, false).trimEnd(),
  ];
  return `${lines.join('\n')}\n`;
}

function upstreamTable(title: string, rows: readonly UpstreamStats[], models: boolean): string {
  const header = [title, 'REQUESTS', 'OK', 'ERRORS', 'CANCELLED', 'RETRIES', 'P50', 'COST'];
  if (models) header.push('RACE WINS', 'BREAKER');
  return table(
    header,
    rows.map((r) => {
      const row = [
        r.name,
        String(r.requests),
        String(r.successes),
        String(r.errors),
        String(r.cancelled),
        String(r.retries),
        ms(r.latency?.p50Ms ?? 0),
        usd(r.costUsd),
      ];
      if (models) row.push(String(r.raceWins), enumName(circuitStateToJSON(r.breakerState), 'CIRCUIT_STATE_'));
      return row;
    }),
  );
}

function latency(l: LatencySummary | undefined): string {
  if (!l || l.count === 0) return 'no samples';
  return `avg ${ms(l.avgMs)}, p50 ${ms(l.p50Ms)}, p95 ${ms(l.p95Ms)}, p99 ${ms(l.p99Ms)}, max ${ms(l.maxMs)} (${l.count} samples)`;
}

/** Columns padded to their widest cell. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function enumName(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function usd(value: number): string {
  return `$${value.toFixed(6)}`;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}
