/** A chat message reduced to what the simulator needs: content is always plain text. */
export interface SimMessage {
  readonly role: string;
  readonly content: string;
}

const VOCABULARY: readonly string[] = [
  'the',
  'model',
  'considers',
  'your',
  'question',
  'and',
  'suggests',
  'a',
  'simple',
  'plan',
  'first',
  'measure',
  'latency',
  'then',
  'compare',
  'results',
  'across',
  'providers',
  'carefully',
  'because',
  'streaming',
  'tokens',
  'arrive',
  'quickly',
  'while',
  'context',
  'matters',
  'most',
  'in',
  'practice',
  'this',
  'approach',
  'keeps',
  'costs',
  'low',
  'with',
  'reliable',
  'fallback',
  'for',
  'every',
  'request',
  'so',
  'answers',
  'stay',
  'useful',
  'clear',
  'short',
  'accurate',
  'overall',
  'it',
  'works',
  'well',
  'when',
  'retries',
  'are',
  'bounded',
  'by',
  'deadlines',
  'gateway',
  'routes',
  'traffic',
  'sensibly',
];

/** Question words that would make a poor topic echo ("answer on what does:"). */
const STOP_WORDS: ReadonlySet<string> = new Set([
  'what',
  'which',
  'when',
  'where',
  'does',
  'have',
  'this',
  'that',
  'with',
  'about',
  'from',
  'your',
  'please',
  'tell',
  'explain',
  'could',
  'would',
  'should',
  'there',
  'their',
  'into',
]);

/** How long simulated answers are, in words (one word = one simulated token). */
export interface AnswerLength {
  readonly min: number;
  readonly max: number;
}

export const DEFAULT_ANSWER_LENGTH: AnswerLength = { min: 12, max: 48 };
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over UTF-16 code units, chainable so a prompt is hashed without joining it. */
export function fnv1a32(text: string, hash: number = FNV_OFFSET): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** mulberry32: a tiny deterministic PRNG returning floats in [0, 1), the same sequence for the same start value. */
export function mulberry32(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function startOf(model: string, messages: readonly SimMessage[]): number {
  // Separators that cannot appear in ids keep ("ab","c") and ("a","bc") apart.
  let h = fnv1a32(model);
  for (const message of messages) {
    h = fnv1a32('\u0001', h);
    h = fnv1a32(message.role, h);
    h = fnv1a32('\u0002', h);
    h = fnv1a32(message.content, h);
  }
  return h;
}

/** Up to two content words of the last user message, so an answer visibly echoes its prompt. */
function topicWords(messages: readonly SimMessage[]): string[] {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message === undefined || message.role !== 'user') continue;
    const words = message.content.toLowerCase().match(/[a-z0-9]{4,}/g) ?? [];
    return words.filter((word) => !STOP_WORDS.has(word)).slice(0, 2);
  }
  return [];
}

/**
 * The deterministic answer of `model` to `messages`: `length.min`..`length.max` words (12..48 by
 * default), starting with "Simulated <model> answer[ on <topic>]:". Same input, same text;
 * another model, another text.
 */
export function generateText(model: string, messages: readonly SimMessage[], length: AnswerLength = DEFAULT_ANSWER_LENGTH): string {
  const random = mulberry32(startOf(model, messages));
  const target = length.min + Math.floor(random() * (length.max - length.min + 1));
  const topic = topicWords(messages);
  const words = ['Simulated', model.replace(/\s+/g, '-'), 'answer'];
  if (topic.length > 0) words.push('on', ...topic);
  words[words.length - 1] += ':';
  while (words.length < target) {
    words.push(VOCABULARY[Math.floor(random() * VOCABULARY.length)] ?? 'and');
  }
  words[words.length - 1] += '.';
  return words.join(' ');
}

/**
 * Splits text into simulated tokens: one word plus its trailing space, so the tokens
 * concatenate back to the text exactly.
 */
export function tokenize(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

/** A rough prompt-side token count: a quarter of the characters, at least one. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Per-message overhead of 3 tokens, as chat formats add role and separator tokens. */
export function countPromptTokens(messages: readonly SimMessage[]): number {
  let total = 0;
  for (const message of messages) total += estimateTokens(message.content) + 3;
  return total;
}
