import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ChunkTemplate, type ParsedChunk } from '../../../../src/providers/openai/chunk-template.js';
import { OpenAIProvider } from '../../../../src/providers/openai/provider.js';
import type { ProviderStreamEvent } from '../../../../src/providers/types.js';

/** What the stream reads from a chunk parsed whole: the delta's text, or undefined when it may not use a template. */
function plainContent(text: string): string | undefined {
  let chunk: ParsedChunk & { choices?: { delta?: { content?: unknown; tool_calls?: unknown } | null; finish_reason?: unknown }[] };
  try {
    chunk = JSON.parse(text) as typeof chunk;
  } catch {
    return undefined;
  }
  const choice = chunk.choices?.length === 1 ? chunk.choices[0] : undefined;
  const content = choice?.delta?.content;
  if (typeof content !== 'string' || choice?.finish_reason != null || chunk.usage != null || chunk.error != null) return undefined;
  if (choice?.delta?.tool_calls != null) return undefined;
  return content;
}

const learned = (text: string): ChunkTemplate => {
  const template = new ChunkTemplate();
  template.learn(text, JSON.parse(text) as ParsedChunk);
  return template;
};

const openai = (content: string, extra = ''): string =>
  `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":null}]${extra}}`;

/** Chunks that are not a plain text delta: a template neither reads them nor is learned from them. */
const NOT_PLAIN = [
  openai('x').replace('"finish_reason":null', '"finish_reason":"stop"'),
  openai('x', ',"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}'),
  openai('x', ',"error":{"message":"e"}'),
  openai('x').replace('{"content":"x"}', '{"content":"x","tool_calls":[{"index":0}]}'),
  openai('x').replace('}]}', '},{"index":1,"delta":{"content":"y"},"finish_reason":null}]}'),
];

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

const CONTENTS = [
  'tok',
  ' word',
  '',
  'a"b',
  'back\\slash',
  'new\nline',
  'tab\t',
  'é ü 日本',
  '😀',
  '\u2028',
  '"',
  '\\',
  'm',
  '}]}',
  '","content":"x',
];

describe('ChunkTemplate', () => {
  it('reads the content of later chunks as JSON.parse does, whatever the text holds', () => {
    const template = learned(openai('first'));
    for (const content of CONTENTS) {
      const text = openai(content);
      expect(template.content(text)).toBe(content);
      expect(plainContent(text)).toBe(content);
    }
  });

  it('reads a literal the upstream escaped otherwise than JSON.stringify does', () => {
    const template = learned(openai('first'));
    const text = openai('X').replace('"X"', '"caf\\u00e9 \\/ \\"q\\""');
    expect(template.content(text)).toBe('café / "q"');
  });

  it('misses every chunk that is not the learned one with another content, so the caller parses it whole', () => {
    const template = learned(openai('first'));
    const misses = [
      ...NOT_PLAIN,
      openai('x', ',"obfuscation":"abc"'),
      openai('x').replace('"id":"chatcmpl-1"', '"id":"chatcmpl-2"'),
      openai('x').replace('{"content":"x"}', '{"content":null}'),
      openai('x').replace('{"content":"x"}', '{"content":5}'),
      openai('x').replace('"x"', '"a"b"'),
      openai('x').replace('"x"', '"a","content":"b"'),
      openai('x').replace('"x"', '"a" '),
      openai('x').replace('"x"', '"bad \\x escape"'),
      openai('x').replace('"x"', '"raw\nnewline"'),
      openai('x').replace('"x"', '"unterminated'),
      openai('x').slice(0, -1),
      `${openai('x')} `,
      '',
      'not json',
    ];
    for (const text of misses) expect(template.content(text), text).toBeUndefined();
  });

  it('never reads a text otherwise than JSON.parse, over generated shapes and mutations', () => {
    const random = rng(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const space = (): string => pick(['', '', ' ', '\n', '\t ']);
    let read = 0;
    for (let round = 0; round < 400; round++) {
      const fields = [
        `"id"${space()}:${space()}"chatcmpl-${round}"`,
        `"model":${space()}"${pick(['m', 'tok', 'llama3'])}"`,
        `"created":${pick(['1700000000', '1.5e9', '-0'])}`,
        `"system_fingerprint":${pick(['null', '"fp"', '{"a":[1,{"b":"content"}]}'])}`,
      ];
      const delta = pick(['{"content":CONTENT}', '{"role":"assistant","content":CONTENT}', '{"content" : CONTENT, "refusal":null}']);
      const choices = `"choices":[{"index":0,${space()}"delta":${delta},"logprobs":null,"finish_reason":null}]`;
      const members = [...fields, choices, ...(random() < 0.3 ? ['"usage":null'] : [])].sort(() => random() - 0.5);
      const shape = `{${space()}${members.join(`,${space()}`)}${space()}}`;
      const first = pick(CONTENTS.filter((c) => c !== ''));
      const template = learned(shape.replace('CONTENT', JSON.stringify(first)));
      for (let k = 0; k < 12; k++) {
        let text = shape.replace('CONTENT', JSON.stringify(pick(CONTENTS)));
        const at = Math.floor(random() * text.length);
        const mutation = pick(['none', 'none', 'delete', 'insert', 'replace']);
        const char = pick(['"', '\\', ',', '}', ']', ' ', 'x', '\n', ':', '\u0001']);
        if (mutation === 'delete') text = text.slice(0, at) + text.slice(at + 1);
        if (mutation === 'insert') text = text.slice(0, at) + char + text.slice(at);
        if (mutation === 'replace') text = text.slice(0, at) + char + text.slice(at + 1);
        const value = template.content(text);
        if (value === undefined) continue;
        read++;
        expect(plainContent(text), text).toBe(value);
      }
    }
    expect(read).toBeGreaterThan(1000);
  });

  it("learns the content's own place when its text also appears elsewhere", () => {
    const text = '{"model":"tok","note":{"content":"tok"},"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}';
    const template = learned(text);
    const next = text.replace('"delta":{"content":"tok"}', '"delta":{"content":"next"}');
    expect(template.content(next)).toBe('next');
    // The other "content" is not the delta's: a change there is another chunk.
    expect(template.content(text.replace('"note":{"content":"tok"}', '"note":{"content":"x"}'))).toBeUndefined();
  });

  it('learns only from a plain text delta', () => {
    const refused = [...NOT_PLAIN, openai('')];
    for (const text of refused) expect(learned(text).content(openai('next')), text).toBeUndefined();
  });

  it('stops learning after three texts, for upstreams whose chunks never repeat', () => {
    const template = new ChunkTemplate();
    for (let i = 0; i < 3; i++) {
      const text = openai('x', `,"obfuscation":"${i}"`);
      template.learn(text, JSON.parse(text) as ParsedChunk);
    }
    const repeating = openai('x', ',"obfuscation":"same"');
    template.learn(repeating, JSON.parse(repeating) as ParsedChunk);
    expect(template.content(openai('y', ',"obfuscation":"same"'))).toBeUndefined();
    expect(template.content(openai('y', ',"obfuscation":"2"'))).toBe('y');
  });
});

describe('an OpenAI stream whose chunks change shape midway', () => {
  it('relays every token and the finish as a parse of each chunk would', async () => {
    const chunk = (delta: object, extra: object = {}): string =>
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
    const body = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'one' }),
      chunk({ content: ' "two"\n' }),
      chunk({ content: 'three' }, { obfuscation: 'x' }),
      chunk({ content: null, tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
      chunk({ content: ' four' }),
      chunk({ content: ' five' }).replace('"model":"m"', '"model":"m2"'),
      chunk({ content: ' six' }).replace('"model":"m"', '"model":"m2"'),
      chunk({}).replace('"finish_reason":null', '"finish_reason":"length"'),
      'data: [DONE]\n\n',
    ].join('');
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const provider = new OpenAIProvider({ name: 'local', baseURL, apiKey: 'k' });
      const events: ProviderStreamEvent[] = [];
      const request = { upstreamModel: 'm', messages: [{ role: 'user' as const, content: 'hi' }], temperature: 0, maxTokens: 100 };
      for await (const event of provider.stream({ ...request, signal: new AbortController().signal })) events.push(event);
      const text = events.map((e) => (e.type === 'delta' ? e.content : '')).join('');
      expect(text).toBe('one "two"\nthree four five six');
      expect(events.filter((e) => e.type === 'delta' && e.toolCall).length).toBe(1);
      expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'length' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
