/**
 * Client-side cost of one chat call, per HTTP client, in one Node process against the bench
 * upstream (a separate process): CPU microseconds per call (process.cpuUsage) and calls/s at a
 * fixed concurrency. This is where a gateway built on the openai SDK spends its time.
 *
 * Options: USAGE below (`--help` prints it).
 *
 * Variants: undici.request (the floor), global fetch, undici.fetch, our undici-fetch on its
 * own, and the openai SDK with each fetch; then SSE streams (20 chunks) through the SDK.
 */
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { Agent, fetch as undiciPackageFetch, request } from 'undici';
import { LeanOpenAI } from '../src/providers/openai/lean-openai.js';
import { createUndiciFetch } from '../src/providers/http/undici-fetch.js';
import { type ArgSpec, checkArgs } from './lib/args.js';
import { runIfMain, startProcess } from './lib/proc.js';

const USAGE = `usage: npx tsx bench/transport.ts [--calls 20000] [--concurrency 64] [--rounds 3] [--only VARIANT] [--json out.json]
`;
const ARGS: ArgSpec = { values: ['calls', 'concurrency', 'rounds', 'only', 'json'] };

interface Variant {
  readonly name: string;
  readonly kind: 'unary' | 'stream';
  readonly call: () => Promise<void>;
}

export interface TransportRow {
  readonly name: string;
  readonly kind: 'unary' | 'stream';
  readonly cpuUsPerCall: number;
  readonly callsPerSecond: number;
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const BODY = JSON.stringify({
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'Say hello.' }],
  temperature: 0.7,
  max_tokens: 50,
});

export async function runTransportBench(options: {
  baseURL: string;
  calls: number;
  concurrency: number;
  rounds: number;
  /** Only the variants whose name contains this. */
  only?: string;
  log?: (line: string) => void;
}): Promise<TransportRow[]> {
  const { baseURL, calls, concurrency, rounds } = options;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const url = `${baseURL}/chat/completions`;
  const headers = { 'content-type': 'application/json', authorization: 'Bearer bench' };
  const agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 });
  const light = createUndiciFetch();
  const sdk = (fetch?: typeof globalThis.fetch): OpenAI =>
    new OpenAI({ apiKey: 'bench', baseURL, maxRetries: 0, timeout: 3_600_000, ...(fetch ? { fetch } : {}) });
  const sdkGlobal = sdk();
  const sdkLean = new LeanOpenAI({ apiKey: 'bench', baseURL, maxRetries: 0, timeout: 3_600_000, fetch: light });
  await verifyLeanHeaders(baseURL, log);
  const sdkLight = sdk(light);
  const params = {
    model: 'gpt-4o',
    messages: [{ role: 'user' as const, content: 'Say hello.' }],
    temperature: 0.7,
    max_tokens: 50,
  };
  const streamOnce = async (client: OpenAI): Promise<void> => {
    const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let n = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) n += 1;
    if (n === 0) throw new Error('empty stream');
  };
  const all: Variant[] = [
    {
      name: 'undici.request (floor)',
      kind: 'unary',
      call: async () => {
        const res = await request(url, { method: 'POST', headers, body: BODY, dispatcher: agent });
        await res.body.json();
      },
    },
    {
      name: 'global fetch',
      kind: 'unary',
      call: async () => {
        const res = await fetch(url, { method: 'POST', headers, body: BODY });
        await res.json();
      },
    },
    {
      name: 'undici.fetch (package)',
      kind: 'unary',
      call: async () => {
        const res = await undiciPackageFetch(url, { method: 'POST', headers, body: BODY, dispatcher: agent });
        await res.json();
      },
    },
    {
      name: 'undici-fetch (ours, light Response)',
      kind: 'unary',
      call: async () => {
        const res = await light(url, { method: 'POST', headers, body: BODY });
        await res.json();
      },
    },
    {
      name: 'openai SDK + global fetch (stock)',
      kind: 'unary',
      call: async () => {
        await sdkGlobal.chat.completions.create(params);
      },
    },
    {
      name: 'openai SDK + undici-fetch light',
      kind: 'unary',
      call: async () => {
        await sdkLight.chat.completions.create(params);
      },
    },
    {
      name: 'LeanOpenAI + undici-fetch light',
      kind: 'unary',
      call: async () => {
        await sdkLean.chat.completions.create(params);
      },
    },
    { name: 'SDK stream + global fetch (stock)', kind: 'stream', call: () => streamOnce(sdkGlobal) },
    { name: 'SDK stream + undici-fetch light', kind: 'stream', call: () => streamOnce(sdkLight) },
    { name: 'LeanOpenAI stream + undici-fetch light', kind: 'stream', call: () => streamOnce(sdkLean) },
  ];
  const variants = options.only === undefined ? all : all.filter((v) => v.name.includes(options.only!));

  const results = new Map<string, { cpu: number[]; rate: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const n = variant.kind === 'stream' ? Math.ceil(calls / 4) : calls;
      await drive(variant.call, Math.min(2_000, n), concurrency); // warm-up: JIT, pool
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await drive(variant.call, n, concurrency);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const entry = results.get(variant.name) ?? { cpu: [], rate: [] };
      entry.cpu.push((cpu.user + cpu.system) / n);
      entry.rate.push(n / seconds);
      results.set(variant.name, entry);
    }
    log(`  transport round ${round + 1}/${rounds} done`);
  }
  await agent.close();
  await light.close();
  return variants.map((v) => {
    const r = results.get(v.name)!;
    return { name: v.name, kind: v.kind, cpuUsPerCall: Math.round(median(r.cpu)), callsPerSecond: Math.round(median(r.rate)) };
  });
}

/** LeanOpenAI must send exactly what the stock SDK sends: same URL, method, headers, body. */
async function verifyLeanHeaders(baseURL: string, log: (line: string) => void): Promise<void> {
  const seen: { url: string; method: string; headers: Record<string, string>; body: string }[] = [];
  const capture = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    seen.push({ url: String(input), method: String(init?.method), headers, body: String(init?.body) });
    return fetch(input, init);
  }) as typeof fetch;
  const opts = { apiKey: 'bench', baseURL, maxRetries: 0, timeout: 3_600_000, organization: 'org-bench', fetch: capture };
  const params = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 5 };
  // Per-request headers as the gateway passes them (W3C trace context), one overriding a default.
  const perRequest = { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'X-Stainless-Lang': 'js2' } };
  const stockClient = new OpenAI(opts);
  await stockClient.chat.completions.create(params);
  await stockClient.chat.completions.create(params, perRequest);
  const lean = new LeanOpenAI(opts);
  await lean.chat.completions.create(params);
  await lean.chat.completions.create(params); // from the template
  await lean.chat.completions.create(params, perRequest); // template + per-request headers
  const [stock, stockWithHeaders, , templated, templatedWithHeaders] = seen;
  for (const [a, b] of [
    [stock, templated],
    [stockWithHeaders, templatedWithHeaders],
  ] as const) {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new Error(`LeanOpenAI request differs from the SDK's:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
    }
  }
  log('  LeanOpenAI sends the same URL, method, headers and body as the stock SDK (with and without per-request headers): ok');
}

/** `total` calls with at most `concurrency` in flight. */
async function drive(call: () => Promise<void>, total: number, concurrency: number): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started += 1;
      await call();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatTransportRows(rows: readonly TransportRow[]): string {
  const floor = rows[0]?.cpuUsPerCall ?? 1;
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = [`${'client'.padEnd(width)}  ${'CPU us/call'.padStart(11)}  ${'calls/s'.padStart(8)}  ${'x floor'.padStart(7)}`];
  for (const r of rows) {
    lines.push(
      `${r.name.padEnd(width)}  ${String(r.cpuUsPerCall).padStart(11)}  ${String(r.callsPerSecond).padStart(8)}  ${(r.cpuUsPerCall / floor)
        .toFixed(1)
        .padStart(7)}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  checkArgs(USAGE, ARGS);
  const upstream = await startProcess({
    name: 'upstream',
    command: process.execPath,
    args: ['--import', 'tsx', 'bench/upstream.ts'],
    env: { PORT: '0' },
    portFromLine: (line) => {
      try {
        const parsed = JSON.parse(line) as { upstream?: string; port?: number };
        return parsed.upstream === 'listening' ? parsed.port : undefined;
      } catch {
        return undefined;
      }
    },
  });
  try {
    const rows = await runTransportBench({
      baseURL: `http://127.0.0.1:${upstream.port}/v1`,
      calls: arg('calls', 20_000),
      concurrency: arg('concurrency', 64),
      rounds: arg('rounds', 3),
      ...(process.argv.includes('--only') ? { only: process.argv[process.argv.indexOf('--only') + 1] ?? '' } : {}),
    });
    process.stdout.write(`\nConcurrency ${arg('concurrency', 64)}, node ${process.version}\n${formatTransportRows(rows)}\n`);
    const jsonAt = process.argv.indexOf('--json');
    if (jsonAt >= 0 && process.argv[jsonAt + 1]) writeFileSync(process.argv[jsonAt + 1]!, JSON.stringify(rows, null, 2));
  } finally {
    await upstream.stop();
  }
}

runIfMain(import.meta.url, main);
