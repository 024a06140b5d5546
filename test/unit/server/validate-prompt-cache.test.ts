import { describe, expect, it } from 'vitest';
import type { OrchestratorError } from '../../../src/domain/errors.js';
import type { ToolOptions } from '../../../src/gen/orchestrator/v1/chat.js';
import { type Message, PromptCacheTtl, Role } from '../../../src/gen/orchestrator/v1/common.js';
import { RequestValidator } from '../../../src/server/validate.js';
import { chatMessage } from '../../helpers/grpc-client.js';

const LIMITS = { maxContentChars: 50_000, maxModelsPerCall: 5, defaultTemperature: 0.7 };
const FIVE = { ttl: PromptCacheTtl.PROMPT_CACHE_TTL_UNSPECIFIED };
const HOUR = { ttl: PromptCacheTtl.PROMPT_CACHE_TTL_ONE_HOUR };

function decode(messages: Message[], tooling?: ToolOptions) {
  const v = new RequestValidator(LIMITS);
  const input = v.conversation({ model: 'claude', prompt: '', messages, tooling });
  try {
    v.check();
  } catch (err) {
    return { violations: (err as OrchestratorError).fieldViolations };
  }
  return { input };
}

describe('prompt cache markers on the gRPC door', () => {
  it('reads them on a message, a part and a tool; unset ttl is five minutes', () => {
    const { input } = decode(
      [
        chatMessage({ role: Role.ROLE_SYSTEM, content: 'doc', cache: HOUR }),
        chatMessage({ parts: [{ part: { $case: 'text', text: 'a' }, cache: FIVE }, { part: { $case: 'text', text: 'b' } }] }),
      ],
      { tools: [{ name: 'f', description: '', strict: false, cache: HOUR }] },
    );
    expect(input?.messages[0]?.cache).toEqual({ ttl: '1h' });
    expect(input?.messages[1]?.parts).toEqual([
      { type: 'text', text: 'a', cache: { ttl: '5m' } },
      { type: 'text', text: 'b' },
    ]);
    expect(input?.tooling?.tools?.[0]?.cache).toEqual({ ttl: '1h' });
  });

  it('refuses a fifth marker, naming each one past four where the request holds it', () => {
    const marked = (text: string) => chatMessage({ content: text, cache: FIVE });
    const { violations } = decode(
      [marked('a'), marked('b'), chatMessage({ parts: [{ part: { $case: 'text', text: 'c' }, cache: FIVE }] }), marked('d')],
      { tools: [{ name: 'f', description: '', strict: false, cache: FIVE }] },
    );
    expect(violations).toEqual([
      {
        field: 'messages[3].cache',
        description: 'at most 4 prompt cache markers in a request, tools, messages and parts together (got 5)',
      },
    ]);
  });

  it("refuses a one-hour marker after a five-minute one in Anthropic's order (tools, system, messages), naming it", () => {
    const description =
      'a one-hour prompt cache marker must come before every five-minute one (tools, then system messages, then the others); the five-minute marker at messages[0].cache comes first';
    const late = decode([
      chatMessage({ role: Role.ROLE_SYSTEM, content: 'doc', cache: FIVE }),
      chatMessage({ parts: [{ part: { $case: 'text', text: 'a' }, cache: HOUR }] }),
    ]);
    expect(late.violations).toEqual([{ field: 'messages[1].parts[0].cache', description }]);
    // A system message comes before the others wherever it stands, and tools before both.
    const hoisted = decode(
      [chatMessage({ content: 'q', cache: HOUR }), chatMessage({ role: Role.ROLE_SYSTEM, content: 'doc', cache: HOUR })],
      { tools: [{ name: 'f', description: '', strict: false, cache: FIVE }] },
    );
    expect(hoisted.violations?.map((v) => v.field)).toEqual(['messages[1].cache', 'messages[0].cache']);
  });

  it("refuses a message's marker of another ttl than its last part's, the block both would go on, naming the message's", () => {
    const parts = (cache: typeof FIVE) => [
      { part: { $case: 'text' as const, text: 'doc' } },
      { part: { $case: 'text' as const, text: 'q' }, cache },
    ];
    const description =
      "falls on the block of messages[0].parts[1].cache (a message's marker goes on its last block) with another ttl: drop one, or give both the same";
    for (const [message, part] of [
      [FIVE, HOUR],
      [HOUR, FIVE],
    ] as const) {
      expect(decode([chatMessage({ parts: parts(part), cache: message })]).violations).toEqual([
        { field: 'messages[0].cache', description },
      ]);
      expect(decode([chatMessage({ role: Role.ROLE_SYSTEM, parts: parts(part), cache: message })]).violations).toEqual([
        { field: 'messages[0].cache', description },
      ]);
    }
  });

  it("counts a message's marker and its last part's of the same ttl once: one block, one breakpoint", () => {
    const marked = (text: string) => chatMessage({ content: text, cache: FIVE });
    const both = chatMessage({
      parts: [{ part: { $case: 'text', text: 'a' } }, { part: { $case: 'text', text: 'b' }, cache: FIVE }],
      cache: FIVE,
    });
    const { input } = decode([marked('x'), marked('y'), marked('z'), both]);
    expect(input?.messages).toHaveLength(4);
    // A marked part that is not the message's last block is a breakpoint of its own.
    const apart = chatMessage({
      parts: [{ part: { $case: 'text', text: 'a' }, cache: FIVE }, { part: { $case: 'text', text: 'b' } }],
      cache: FIVE,
    });
    expect(decode([marked('x'), marked('y'), marked('z'), apart]).violations?.map((v) => v.field)).toEqual(['messages[3].cache']);
  });

  it('takes one-hour markers before five-minute ones', () => {
    const { input } = decode(
      [chatMessage({ content: 'q', cache: FIVE }), chatMessage({ role: Role.ROLE_SYSTEM, content: 'doc', cache: HOUR })],
      { tools: [{ name: 'f', description: '', strict: false, cache: HOUR }] },
    );
    expect(input?.messages).toHaveLength(2);
  });

  it('refuses a ttl the contract does not define', () => {
    const { violations } = decode([chatMessage({ content: 'a', cache: { ttl: 9 as PromptCacheTtl } })]);
    expect(violations?.map((v) => v.field)).toEqual(['messages[0].cache.ttl']);
  });
});
