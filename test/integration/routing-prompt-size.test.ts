import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_TOKEN_ESTIMATE } from '../../src/domain/chat.js';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

interface Ranked {
  model: string;
  eligible: boolean;
  excluded_reason: string | null;
}
interface Completion {
  model: string;
  x_orchestrator: { route_decision: { prompt_tokens: number; ranking: Ranked[] } };
}

const post = async (body: object): Promise<Completion> => {
  const res = await fetch(`${h.app.http!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Completion;
};

const PIXEL = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('a route sizes the whole prompt the upstream reads', () => {
  it('counts the arguments of earlier tool calls: a window they overflow is excluded', async () => {
    // Two calls of about 48,000 characters each: some 24,000 tokens, past gpt-3.5-turbo's 16,385.
    const args = JSON.stringify({ path: 'a.txt', content: 'lorem ipsum dolor sit amet '.repeat(1_800) });
    const call = (id: string) => ({ id, type: 'function', function: { name: 'write_file', arguments: args } });
    const answer = await post({
      model: 'route:long_context',
      max_tokens: 50,
      tools: [{ type: 'function', function: { name: 'write_file', parameters: { type: 'object' } } }],
      messages: [
        { role: 'user', content: 'Write the files.' },
        { role: 'assistant', content: null, tool_calls: [call('c1'), call('c2')] },
        { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        { role: 'tool', tool_call_id: 'c2', content: 'ok' },
        { role: 'user', content: 'Now summarise what you wrote.' },
      ],
      orchestrator: { route: { candidates: ['gpt-3.5-turbo', 'gpt-4.1'] } },
    });
    const decision = answer.x_orchestrator.route_decision;
    expect(decision.prompt_tokens).toBeGreaterThan((2 * args.length) / 4);
    expect(answer.model).toBe('gpt-4.1');
    const small = decision.ranking.find((r) => r.model === 'gpt-3.5-turbo');
    expect(small?.eligible).toBe(false);
    expect(small?.excluded_reason).toMatch(/^context window 16385 < \d+ tokens needed$/);
  });

  it('counts each image as admission estimates it', async () => {
    const ask = (images: number) =>
      post({
        model: 'route:budget',
        max_tokens: 5,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these pictures?' },
              ...Array.from({ length: images }, () => ({ type: 'image_url', image_url: { url: PIXEL } })),
            ],
          },
        ],
      });
    const [none, two] = [await ask(0), await ask(2)];
    expect(two.x_orchestrator.route_decision.prompt_tokens - none.x_orchestrator.route_decision.prompt_tokens).toBe(
      2 * IMAGE_TOKEN_ESTIMATE,
    );
  });
});
