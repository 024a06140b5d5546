import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startWithSimulator } from '../helpers/harness.js';

/**
 * The `openai` SDK example of docs/openai-api.md, copied from the page and run as a reader would
 * (only the base URL points at this server) against a gateway open to every caller, in front of
 * its embedded simulator; its output must read like the one printed under it.
 */
const run = promisify(execFile);
const page = readFileSync(new URL('../../docs/openai-api.md', import.meta.url), 'utf8');
const nodeExample = /### Node \(`openai` npm package\)\n\n```js\n([\s\S]*?)```\n\n```console\n([\s\S]*?)```/.exec(page);

let app: App;
beforeAll(async () => {
  app = await startWithSimulator({ LOG_LEVEL: 'silent', DATABASE_URL: 'sqlite::memory:' });
}, 30_000);
afterAll(async () => {
  await app?.stop(200);
});

describe('docs/openai-api.md', () => {
  it('the Node example runs against an open gateway and prints what the page shows', async () => {
    expect(nodeExample).not.toBeNull();
    const [, code = '', shown = ''] = nodeExample ?? [];
    expect(code).toContain("baseURL: 'http://localhost:8080/v1'");
    const program = code.replace('http://localhost:8080/v1', `${app.http?.url}/v1`);
    // A reader with no key of any kind: the service is open, so none is needed.
    const env = { ...process.env };
    for (const name of Object.keys(env)) if (/API_KEY|GATEWAY_KEY/.test(name)) delete env[name];
    // Evaluated from the repository root, so `import OpenAI from 'openai'` finds the gateway's own dependency.
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', program], { env, timeout: 60_000 }).catch(
      (err: { stderr?: string }) => {
        throw new Error(`the example failed: ${err.stderr ?? err}`);
      },
    );
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    const expected = shown.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(expected.length);
    expect(lines[0]).toMatch(/^gpt-4o \d+ \d/);
    expect(expected[0]).toMatch(/^gpt-4o \d+ \d/);
    expect(lines[1]).toMatch(/^Simulated \S+ answer/);
    expect(lines[2]).toMatch(/^\[\S+\] 8 tokens$/);
    expect(expected[2]).toMatch(/^\[\S+\] 8 tokens$/);
    expect(lines[3]).toBe(expected[3]);
  }, 90_000);

  // The page promises a 400 naming each OpenAI field the gateway does not carry, and lists them.
  const refusedList = /Refused with a 400 that names the field[\s\S]*?\n\n/.exec(page)?.[0] ?? '';
  it.each([
    [{ messages: [{ role: 'user', content: 'hi', name: 'alice' }] }, 'messages[0].name', '`name`'],
    [
      {
        messages: [
          { role: 'system', content: 'Be brief', name: 'rules' },
          { role: 'user', content: 'hi' },
        ],
      },
      'messages[0].name',
      '`name`',
    ],
    [{ service_tier: 'auto' }, 'service_tier', '`service_tier`'],
    [{ store: true }, 'store', '`store`'],
    [{ logit_bias: { '50256': -100 } }, 'logit_bias', '`logit_bias`'],
    [{ modalities: ['text'] }, 'modalities', '`modalities`'],
    [{ audio: { voice: 'alloy', format: 'mp3' } }, 'audio', '`audio`'],
    [{ prediction: { type: 'content', content: 'x' } }, 'prediction', '`prediction`'],
    [{ web_search_options: {} }, 'web_search_options', '`web_search_options`'],
    [{ verbosity: 'low' }, 'verbosity', '`verbosity`'],
    [{ prompt_cache_key: 'k' }, 'prompt_cache_key', '`prompt_cache_key`'],
    [{ safety_identifier: 'u1' }, 'safety_identifier', '`safety_identifier`'],
    [{ function_call: 'auto' }, 'function_call', '`function_call`'],
    [{ moderation: { model: 'omni-moderation-latest' } }, 'moderation', '`moderation`'],
    [{ prompt_cache_options: { mode: 'explicit' } }, 'prompt_cache_options', '`prompt_cache_options`'],
    [{ prompt_cache_retention: '24h' }, 'prompt_cache_retention', '`prompt_cache_retention`'],
    ...(['refusal', 'audio', 'function_call'] as const).map((field): [Record<string, unknown>, string, string] => [
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'a', [field]: field === 'refusal' ? 'no' : { id: 'x', name: 'f', arguments: '{}' } },
          { role: 'user', content: 'and?' },
        ],
      },
      `messages[1].${field}`,
      `\`${field}\``,
    ]),
  ])('refuses %j with a 400 naming %s, and lists %s among the refused fields', async (extra, param, listed) => {
    const res = await fetch(`${app.http?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...(extra as Record<string, unknown>) }),
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { param: string; message: string } };
    expect(error.param).toBe(param);
    // An OpenAI field, which the SDK types define: not called a field of no chat completion.
    expect(error.message).not.toContain('is not a chat completion field');
    expect(refusedList).toContain(listed);
  });
});

/** The `data:` chunks of the page's streamed curl example, `[...]` (elided attempts) read as an empty list. */
function shownChunks(): Record<string, unknown>[] {
  const block = /\$ curl -sN [\s\S]*?```/.exec(page)?.[0] ?? '';
  return block
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice('data: '.length).replace('"attempts":[...]', '"attempts":[]')) as Record<string, unknown>);
}

const keysOf = (chunk: Record<string, unknown> | undefined, field?: string): string[] =>
  Object.keys((field ? (chunk?.[field] as Record<string, unknown> | undefined) : chunk) ?? {});

/** Every key path of a JSON value (`prompt_tokens_details.cached_tokens`), objects only: the shape a page shows. */
function shapeOf(value: unknown, at = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => [`${at}${k}`, ...shapeOf(v, `${at}${k}.`)]);
}

/** The `"usage":{...}` the page's unary curl example prints, parsed (the line around it elides other fields). */
function shownUnaryUsage(): unknown {
  const block = /\$ curl -s http:\/\/localhost:8080\/v1\/chat\/completions [\s\S]*?\n\n/.exec(page)?.[0] ?? '';
  const line = /"usage":(\{.*\}),\n/.exec(block)?.[1];
  return line === undefined ? undefined : JSON.parse(line);
}

describe('docs/openai-api.md, the streamed completion', () => {
  it('shows the first, last and usage chunks with the fields the gateway sends', async () => {
    const shown = shownChunks();
    expect(shown).toHaveLength(4);
    const res = await fetch(`${app.http?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 8,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    const sent = (await res.text())
      .split('\n\n')
      .filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice('data: '.length)) as Record<string, unknown>);
    const [first, delta, last, usage] = shown;
    const real = [sent[0], sent[1], sent.at(-2), sent.at(-1)];
    for (const [i, chunk] of [first, delta, last, usage].entries()) expect(keysOf(chunk)).toEqual(keysOf(real[i]));
    expect(keysOf(first, 'x_orchestrator')).toEqual(keysOf(real[0], 'x_orchestrator'));
    expect(keysOf(last, 'x_orchestrator')).toEqual(keysOf(real[2], 'x_orchestrator'));
    expect(shapeOf(usage?.['usage'])).toEqual(shapeOf(real[3]?.['usage']));
  });
});

describe('docs/openai-api.md, the unary completion', () => {
  it('shows the usage the gateway sends, its token details included', async () => {
    const shown = shownUnaryUsage();
    expect(shapeOf(shown)).toContain('completion_tokens_details.reasoning_tokens');
    const res = await fetch(`${app.http?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 30 }),
    });
    const sent = (await res.json()) as { usage: unknown };
    expect(shapeOf(shown)).toEqual(shapeOf(sent.usage));
  });
});
