/**
 * The soak's steady mixed load: every RPC of ChatService against the bench upstream, some of it
 * failing on purpose (an upstream 500, a stream cut mid-way) and some of it cancelled by the
 * client while the upstream request is still open. Counts every call by RPC and final status.
 */
import { BatchRequest, ChatRequest, FallbackRequest, RaceRequest, StreamChatRequest } from '../src/gen/orchestrator/v1/chat.js';
import { type GrpcH2Client, grpcFrame } from '../bench/lib/grpc-h2.js';

const conversation = (content: string) => ({ messages: [{ role: 'ROLE_USER', content }], maxTokens: 50 });
const HELLO = conversation('Say hello.');
/** The bench upstream cuts a stream whose request carries this marker (a fault mid-stream). */
const CUT = conversation('Say hello, cut-the-stream.');

const chat = (model: string) => grpcFrame(ChatRequest.encode(ChatRequest.fromJSON({ model, ...HELLO })).finish());
const stream = (model: string, body = HELLO) =>
  grpcFrame(StreamChatRequest.encode(StreamChatRequest.fromJSON({ model, ...body })).finish());

const CHAT = '/orchestrator.v1.ChatService/Chat';
const STREAM = '/orchestrator.v1.ChatService/StreamChat';

/** One kind of call in the mix: what it sends, and when (if ever) the client gives up on it. */
interface Kind {
  readonly name: string;
  readonly path: string;
  readonly frame: Buffer;
  /** Cancel this many ms after sending (the upstream request is still open then). */
  readonly cancelAfterMs?: number;
}

/** Twenty slots, sent in turn: the mix's shares are in twentieths. */
const MIX: readonly Kind[] = (() => {
  const k = {
    chat: { name: 'Chat', path: CHAT, frame: chat('gpt-4o') },
    chatCancelled: { name: 'Chat, cancelled by the client', path: CHAT, frame: chat('gpt-4o-mini'), cancelAfterMs: 2 },
    chatFault: { name: 'Chat, upstream 500', path: CHAT, frame: chat('gpt-4-turbo') },
    stream: { name: 'StreamChat', path: STREAM, frame: stream('gpt-4o') },
    streamCut: { name: 'StreamChat, cut mid-stream', path: STREAM, frame: stream('gpt-4o', CUT) },
    race: {
      name: 'Race',
      path: '/orchestrator.v1.ChatService/Race',
      frame: grpcFrame(RaceRequest.encode(RaceRequest.fromJSON({ models: ['gpt-4o', 'gpt-4o-mini'], ...HELLO })).finish()),
    },
    fallback: {
      name: 'Fallback (primary fails)',
      path: '/orchestrator.v1.ChatService/Fallback',
      frame: grpcFrame(
        FallbackRequest.encode(
          FallbackRequest.fromJSON({ models: ['gpt-4-turbo', 'gpt-4o'], disableDefaultMessage: true, ...HELLO }),
        ).finish(),
      ),
    },
    batch: {
      name: 'Batch (5 items)',
      path: '/orchestrator.v1.ChatService/Batch',
      frame: grpcFrame(
        BatchRequest.encode(
          BatchRequest.fromJSON({
            items: Array.from({ length: 5 }, (_, i) => ({ requestId: `item-${i}`, request: { model: 'gpt-4o', ...HELLO } })),
            concurrency: 2,
          }),
        ).finish(),
      ),
    },
  } satisfies Record<string, Kind>;
  const { chat: c, chatCancelled, chatFault, stream: s, streamCut, race, fallback, batch } = k;
  return [c, s, race, c, fallback, c, s, chatCancelled, c, race, c, streamCut, s, c, race, fallback, c, chatFault, c, batch];
})();

/** A paced stream (250 tokens at 50 tokens/s); one in ten is cancelled part-way. */
const PACED: Kind = { name: 'StreamChat, paced', path: STREAM, frame: stream('gpt-3.5-turbo') };
const PACED_CANCELLED = 'StreamChat, paced, cancelled by the client';

const STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
/** -1: no grpc-status, the client reset the stream (its own cancellation) or the connection broke. */
export const statusName = (code: number): string => (code < 0 ? 'no status (reset by the client)' : (STATUS_NAMES[code] ?? String(code)));

export interface LoadOptions {
  /** Calls per second from the mix. */
  readonly rate: number;
  /** Paced streams kept open at all times. */
  readonly pacedStreams: number;
  /** Calls in flight beyond which a tick sends nothing (a machine too slow for the rate). */
  readonly maxInFlight: number;
}

export class SoakLoad {
  /** "RPC kind|status" -> calls. */
  readonly outcomes = new Map<string, number>();
  tokens = 0;
  skipped = 0;
  /** The most calls in flight at once. */
  peakInFlight = 0;
  private inFlight = 0;
  private slot = 0;
  private stopped = false;
  private ticker: NodeJS.Timeout | undefined;
  private readonly open = new Set<() => void>();
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly client: GrpcH2Client,
    private readonly options: LoadOptions,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  start(): void {
    for (let i = 0; i < this.options.pacedStreams; i++) this.paced();
    const perTick = this.options.rate / 100;
    let owed = 0;
    this.ticker = setInterval(() => {
      owed += perTick;
      for (; owed >= 1; owed -= 1) {
        if (this.inFlight >= this.options.maxInFlight) {
          this.skipped += 1;
          continue;
        }
        this.send(MIX[this.slot++ % MIX.length]!);
      }
    }, 10);
  }

  /** Stops sending, cancels the paced streams still open, lets the other calls end; resolves when no call is in flight (or after `waitMs`). */
  async stop(waitMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.ticker);
    for (const cancel of this.open) cancel();
    if (this.inFlight === 0) return;
    await Promise.race([new Promise<void>((resolve) => this.idle.push(resolve)), new Promise((r) => setTimeout(r, waitMs))]);
  }

  private count(name: string, code: number): void {
    const ended = this.stopped && code < 0 && name.startsWith(PACED.name) ? `${PACED.name}, cancelled at the end of the load` : name;
    const key = `${ended}|${statusName(code)}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  /** `cancel`: the paced streams, which the end of the load cancels (the rest run to their end). */
  private track(name: string, done: Promise<number>, cancel?: () => void): Promise<number> {
    this.inFlight += 1;
    if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
    if (cancel) this.open.add(cancel);
    return done.then((code) => {
      this.inFlight -= 1;
      if (cancel) this.open.delete(cancel);
      this.count(name, code);
      if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
      return code;
    });
  }

  private send(kind: Kind): void {
    const call = this.client.serverStream(kind.path, kind.frame, () => undefined);
    if (kind.cancelAfterMs !== undefined) setTimeout(call.cancel, kind.cancelAfterMs);
    void this.track(kind.name, call.done);
  }

  private paced(): void {
    if (this.stopped) return;
    const cancelled = Math.random() < 0.1;
    const call = this.client.serverStream(PACED.path, PACED.frame, (m) => {
      // StreamChatResponse field 2 (delta): a token.
      if (m[0] === 0x12) this.tokens += 1;
    });
    const timer = cancelled ? setTimeout(call.cancel, 500 + Math.random() * 2500) : undefined;
    void this.track(cancelled ? PACED_CANCELLED : PACED.name, call.done, call.cancel).then(() => {
      clearTimeout(timer);
      this.paced();
    });
  }
}
