import { describe, expect, it } from 'vitest';
import { estimateRequestTokens } from '../../../src/domain/chat.js';
import { OrchestratorError, Reason } from '../../../src/domain/errors.js';
import { longestMarker } from '../../../src/domain/prompt-cache.js';
import { tokenizerLoaded, type AccessControl, type StreamTarget } from '../../../src/engine/index.js';
import { context, engineFixture, input } from '../../helpers/engine-fixture.js';

// Each test file has its own module graph: nothing here loads the routing tokenizer but routing.
const ROUTE = { profile: 'balanced' as const, candidates: [] };
const ROUTED_STREAM: StreamTarget = {
  mode: 'fallback',
  models: [],
  hedgeDelayMs: undefined,
  restartOnFailure: false,
  firstTokenTimeoutMs: undefined,
  interTokenTimeoutMs: undefined,
  route: ROUTE,
};

async function refusalOf(promise: Promise<unknown>): Promise<OrchestratorError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OrchestratorError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

/** Access control that counts admissions and releases, refusing once `limit` calls were admitted. */
function countingAccess(limit: number) {
  const counts = { admitted: 0, released: 0, refused: 0 };
  const access: AccessControl = {
    allows: () => true,
    admit: async () => {
      if (counts.admitted >= limit) {
        counts.refused += 1;
        throw new OrchestratorError({
          kind: 'resource_exhausted',
          reason: Reason.RATE_LIMITED,
          message: 'over the limit',
          retryAfterMs: 1000,
        });
      }
      counts.admitted += 1;
      return {
        record: () => undefined,
        close: () => {
          counts.released += 1;
        },
      };
    },
  };
  return { access, counts };
}

describe('admission comes before any classification', () => {
  it('refuses a routed Chat, a routed stream and a ranking over the limits without tokenizing the text', async () => {
    const { access, counts } = countingAccess(0);
    const { engine, provider } = engineFixture({ access });
    const big = input('a long prompt\n'.repeat(20_000));

    expect((await refusalOf(engine.chat({ model: { name: '', field: 'model' }, route: ROUTE, input: big, ctx: context() }))).reason).toBe(
      Reason.RATE_LIMITED,
    );
    const stream = engine.stream({ model: { name: '', field: 'model' }, target: ROUTED_STREAM, input: big, ctx: context() });
    expect((await refusalOf(stream.next())).reason).toBe(Reason.RATE_LIMITED);
    expect((await refusalOf(engine.rank({ route: ROUTE, input: big, ctx: context() }))).reason).toBe(Reason.RATE_LIMITED);

    expect(counts.refused).toBe(3);
    expect(tokenizerLoaded()).toBe(false);
    expect(provider.calls).toHaveLength(0);
  });

  it('counts a ranking like any call: admitted, then released', async () => {
    const { access, counts } = countingAccess(2);
    const { engine } = engineFixture({ access });
    for (let i = 0; i < 2; i++) {
      const decision = await engine.rank({ route: ROUTE, input: input('hello'), ctx: context() });
      expect(decision.ranking.length).toBeGreaterThan(0);
    }
    expect(counts).toEqual({ admitted: 2, released: 2, refused: 0 });
    expect((await refusalOf(engine.rank({ route: ROUTE, input: input('hello'), ctx: context() }))).reason).toBe(Reason.RATE_LIMITED);
  });
});

describe('admission that outlasts the call', () => {
  it('ends the call with its abort reason, and closes the ticket that comes after', async () => {
    let admit: (() => void) | undefined;
    let closed = 0;
    const access: AccessControl = {
      allows: () => true,
      waits: true,
      admit: () =>
        new Promise((resolve) => {
          admit = () => resolve({ record: () => undefined, close: () => void closed++ });
        }),
    };
    const { engine, provider } = engineFixture({ access });
    const controller = new AbortController();
    const chat = engine.chat({ model: { name: 'gpt-4o-mini', field: 'model' }, input: input('hello'), ctx: context({ controller }) });
    const late = new OrchestratorError({ kind: 'deadline_exceeded', reason: Reason.DEADLINE_EXCEEDED, message: 'deadline passed' });
    controller.abort(late);
    expect(await refusalOf(chat)).toBe(late);
    admit?.();
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(1);
    expect(provider.calls).toHaveLength(0);
  });
});

/** An engine whose access control admits everything and keeps what each admission asked for. */
function recordingDemands(): { engine: ReturnType<typeof engineFixture>['engine']; demands: Parameters<AccessControl['admit']>[0][] } {
  const demands: Parameters<AccessControl['admit']>[0][] = [];
  const { access } = countingAccess(Number.POSITIVE_INFINITY);
  const recording: AccessControl = {
    allows: access.allows,
    admit: (demand) => {
      demands.push(demand);
      return access.admit(demand);
    },
  };
  return { engine: engineFixture({ access: recording }).engine, demands };
}

describe('what admission asks of access control', () => {
  it("names the answer's part of the estimate (max_tokens) apart from the prompt, and counts both for the token limits", async () => {
    const { engine, demands } = recordingDemands();
    const prompt = input('x'.repeat(400), 300);
    await engine.chat({ model: { name: 'gpt-4o-mini', field: 'model' }, input: prompt, ctx: context() }).catch(() => undefined);
    await engine.rank({ route: ROUTE, input: prompt, ctx: context() });
    expect(demands).toHaveLength(2);
    for (const demand of demands) {
      expect(demand.outputTokens).toBe(300);
      expect(demand.estimatedTokens).toBe(estimateRequestTokens(prompt) + 300);
      expect(demand.prompt?.messages).toEqual(prompt.messages);
    }
  });

  it('hands over the request, whose prompt cache markers a budget hold prices as a cache write', async () => {
    const { engine, demands } = recordingDemands();
    const plain = input('a long shared document', 300);
    const marked = {
      ...plain,
      messages: [
        { role: 'system' as const, content: 'rules', cache: { ttl: '1h' as const } },
        { ...plain.messages[0]!, cache: { ttl: '5m' as const } },
      ],
    };
    await engine.chat({ model: { name: 'gpt-4o-mini', field: 'model' }, input: marked, ctx: context() }).catch(() => undefined);
    expect(demands.map((d) => d.prompt && longestMarker(d.prompt.messages, d.prompt.tooling))).toEqual(['1h']);
  });
});
