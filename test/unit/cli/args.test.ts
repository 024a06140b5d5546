import { describe, expect, it } from 'vitest';
import { type CliOptions, parseCommandLine, UsageError } from '../../../src/cli/args.js';
import { RoutingProfile, StreamStrategy } from '../../../src/gen/orchestrator/v1/common.js';

/** The command line as each command sends it: every flag lands in its own field. */
function parse(argv: string[], env: NodeJS.ProcessEnv = {}): CliOptions {
  const parsed = parseCommandLine(argv, env);
  if (typeof parsed === 'string') throw new Error(`expected options, got ${parsed}`);
  return parsed;
}

function refusal(argv: string[]): string {
  try {
    parseCommandLine(argv, {});
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error(`expected a UsageError for ${argv.join(' ')}`);
}

describe('the command line', () => {
  it('puts each chat flag in its own field', () => {
    expect(parse(['chat', 'hi', 'there', '-m', 'gpt-4o-mini', '-t', '0.5', '--max-tokens', '12', '--request-id', 'r1'])).toMatchObject({
      command: 'chat',
      prompt: 'hi there',
      model: 'gpt-4o-mini',
      temperature: 0.5,
      maxTokens: 12,
      requestId: 'r1',
    });
  });

  it('reads race and fallback models, the hedge delay and --no-default-message', () => {
    expect(parse(['race', 'hi', '--models', 'gpt-4o, gpt-4o-mini', '--hedge-ms', '25'])).toMatchObject({
      models: ['gpt-4o', 'gpt-4o-mini'],
      hedgeMs: 25,
    });
    expect(parse(['fallback', 'hi', '--no-default-message']).noDefaultMessage).toBe(true);
    expect(parse(['fallback', 'hi']).noDefaultMessage).toBe(false);
  });

  it('maps each --strategy and --route name to its own enum value', () => {
    expect(['single', 'fallback', 'race'].map((s) => parse(['stream', 'hi', '--strategy', s]).strategy)).toEqual([
      StreamStrategy.STREAM_STRATEGY_SINGLE,
      StreamStrategy.STREAM_STRATEGY_FALLBACK,
      StreamStrategy.STREAM_STRATEGY_RACE,
    ]);
    expect(['quality', 'balanced', 'speed', 'budget', 'long_context'].map((p) => parse(['chat', 'hi', '--route', p]).route)).toEqual([
      RoutingProfile.ROUTING_PROFILE_QUALITY,
      RoutingProfile.ROUTING_PROFILE_BALANCED,
      RoutingProfile.ROUTING_PROFILE_SPEED,
      RoutingProfile.ROUTING_PROFILE_BUDGET,
      RoutingProfile.ROUTING_PROFILE_LONG_CONTEXT,
    ]);
  });

  it('reads the models filters', () => {
    expect(parse(['models', '--provider', 'anthropic', '--available'])).toMatchObject({ provider: 'anthropic', availableOnly: true });
    expect(parse(['models'])).toMatchObject({ provider: '', availableOnly: false });
  });

  it('takes --addr over LLMO_ADDR over the default', () => {
    expect(parse(['stats', '--addr', 'a:1'], { LLMO_ADDR: 'b:2' }).addr).toBe('a:1');
    expect(parse(['stats'], { LLMO_ADDR: 'b:2' }).addr).toBe('b:2');
    expect(parse(['stats']).addr).toBe('127.0.0.1:50051');
  });

  it('refuses a blank PROMPT, and a PROMPT for models and stats', () => {
    expect(refusal(['chat', '  '])).toBe('chat needs a PROMPT');
    expect(refusal(['stats', 'now'])).toBe('stats takes no PROMPT (got "now")');
    expect(refusal(['models', 'gpt'])).toBe('models takes no PROMPT (got "gpt")');
  });

  it('refuses an option the command does not send', () => {
    expect(refusal(['chat', 'hi', '--hedge-ms', '5'])).toBe('--hedge-ms does not apply to chat (only to race, stream)');
    expect(refusal(['race', 'hi', '--no-default-message'])).toBe('--no-default-message does not apply to race (only to fallback)');
    expect(refusal(['chat', 'hi', '--provider', 'openai'])).toBe('--provider does not apply to chat (only to models)');
    expect(refusal(['stats', '--temperature', '1'])).toMatch(/^--temperature does not apply to stats/);
  });

  it('refuses stream flags that do not fit together, naming the flags, and takes those that do', () => {
    expect(refusal(['stream', 'hi', '--models', 'gpt-4o,gpt-4o-mini'])).toBe(
      'stream: --models needs --strategy fallback or race (or --route, of which they are the candidates)',
    );
    expect(refusal(['stream', 'hi', '--strategy', 'single', '--models', 'gpt-4o'])).toMatch(/^stream: --models needs --strategy/);
    expect(refusal(['stream', 'hi', '--strategy', 'fallback', '--models', 'gpt-4o,gpt-4o-mini', '--hedge-ms', '50'])).toBe(
      'stream: --hedge-ms needs --strategy race',
    );
    expect(refusal(['stream', 'hi', '--hedge-ms', '50'])).toBe('stream: --hedge-ms needs --strategy race');
    expect(refusal(['stream', 'hi', '--route', 'speed', '--strategy', 'race'])).toBe(
      'stream: --route tries the ranked models in order: leave --strategy out (or fallback), not race',
    );
    expect(refusal(['stream', 'hi', '--route', 'speed', '--strategy', 'single'])).toMatch(/^stream: --route tries the ranked models/);
    // An unknown strategy is named as such, not as a misfit.
    expect(refusal(['stream', 'hi', '--models', 'a,b', '--strategy', 'racee'])).toBe(
      '--strategy: "racee" is not one of single, fallback, race',
    );
    const taken = [
      ['stream', 'hi', '--strategy', 'race', '--models', 'gpt-4o,gpt-4o-mini', '--hedge-ms', '50'],
      ['stream', 'hi', '--strategy', 'FALLBACK', '--models', 'gpt-4o,gpt-4o-mini'],
      ['stream', 'hi', '--route', 'speed', '--models', 'gpt-4o,gpt-4o-mini'],
      ['stream', 'hi', '--route', 'speed', '--strategy', 'fallback'],
      ['stream', 'hi', '--strategy', 'single', '-m', 'gpt-4o'],
    ];
    expect(taken.map((argv) => parse(argv).command)).toEqual(taken.map(() => 'stream'));
  });

  it('refuses --model with --route, which picks the model, for chat and stream', () => {
    expect(refusal(['chat', 'hi', '--route', 'speed', '--model', 'gpt-4o'])).toBe(
      'chat: --route picks the model: leave out --model (--models names the candidates)',
    );
    expect(refusal(['stream', 'hi', '--route', 'budget', '-m', 'gpt-4o'])).toMatch(/^stream: --route picks the model: leave out --model/);
    expect(parse(['chat', 'hi', '--route', 'speed', '--models', 'gpt-4o,gpt-4o-mini']).models).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('refuses a --models of only separators, which names no model, instead of sending the default chain', () => {
    for (const command of ['race', 'fallback']) {
      expect(refusal([command, 'hi', '--models', ' , '])).toBe('--models: " , " names no model (A,B,...)');
    }
    expect(refusal(['stream', 'hi', '--strategy', 'race', '--models', ','])).toBe('--models: "," names no model (A,B,...)');
    expect(refusal(['chat', 'hi', '--route', 'speed', '--models', ' ,, '])).toBe('--models: " ,, " names no model (A,B,...)');
    expect(parse(['race', 'hi', '--models', 'gpt-4o,,gpt-4o-mini,']).models).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('refuses a --timeout under a millisecond, which the deadline would take as no time at all', () => {
    expect(refusal(['chat', 'hi', '--timeout', '0.0001ms'])).toBe('--timeout must be at least 1ms (got "0.0001ms")');
    expect(refusal(['chat', 'hi', '--timeout', '0.0004s'])).toBe('--timeout must be at least 1ms (got "0.0004s")');
    expect(parse(['chat', 'hi', '--timeout', '1ms']).timeoutMs).toBe(1);
    expect(parse(['chat', 'hi', '--timeout', '0.5']).timeoutMs).toBe(500);
  });

  it('refuses a --request-id the gateway would replace with one of its own, rather than show the caller another id', () => {
    const rule = 'must be printable ASCII, 1 to 128 characters without spaces (the gateway replaces any other id with its own)';
    for (const id of ['deploy 42', '', 'x'.repeat(129), 'héllo'])
      expect([id, refusal(['chat', 'hi', '--request-id', id])]).toEqual([id, `--request-id: "${id}" ${rule}`]);
    expect(parse(['chat', 'hi', '--request-id', 'x'.repeat(128)]).requestId).toBe('x'.repeat(128));
  });

  it('refuses an empty --addr, which names no server, as bad usage', () => {
    expect(refusal(['chat', 'hi', '--addr', ''])).toBe('--addr: empty: give HOST:PORT (default 127.0.0.1:50051)');
    expect(parse(['chat', 'hi'], { LLMO_ADDR: '' }).addr).toBe('127.0.0.1:50051');
  });

  it('refuses --max-tokens 0 and takes --hedge-ms 0', () => {
    expect(refusal(['chat', 'hi', '--max-tokens', '0'])).toBe('--max-tokens: "0" is not a whole number from 1 to 2147483647');
    expect(parse(['race', 'hi', '--hedge-ms', '0']).hedgeMs).toBe(0);
  });
});
