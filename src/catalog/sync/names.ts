/**
 * Model names reduced to comparable keys. Sources spell one model many ways ("openai/gpt-4o",
 * "GPT-4o-2024-05-13", "gpt4o"); the key keeps what tells models apart (family words, version and
 * size numbers, tier words) and drops what does not (vendor, date, case, punctuation, quantisation).
 */

/** Leading words naming the maker, not the model ("Meta-Llama-3.1-8B"). Never a family name too. */
const VENDORS = new Set(['meta', 'openai', 'anthropic', 'google', 'mistralai', 'microsoft', 'nvidia', 'alibaba']);
/** Trailing words that change the weights' format, not the model. */
const FORMAT_WORDS = new Set(['bf16', 'fp16', 'fp8', 'int8', 'int4', 'awq', 'gptq', 'gguf', 'hf', 'latest']);
/** Trailing words that name the chat-tuned variant; dropped only in the second, looser pass. */
const TUNING_WORDS = new Set(['instruct', 'chat', 'it']);
/**
 * Words that make a different model of the same family: a name with one of these never resolves
 * to a name without it, however close the strings are.
 */
export const DISTINCT_WORDS = new Set([
  'mini',
  'nano',
  'micro',
  'tiny',
  'small',
  'medium',
  'large',
  'turbo',
  'pro',
  'max',
  'plus',
  'ultra',
  'flash',
  'lite',
  'haiku',
  'sonnet',
  'opus',
  'preview',
  'vision',
  'audio',
  'realtime',
  'search',
  'reasoner',
  'coder',
  'thinking',
  'o',
]);

export interface NameKey {
  /** Tokens joined by "-": equal keys are the same model. */
  readonly strict: string;
  /** The same without a trailing instruct/chat word. */
  readonly loose: string;
  /** The tokens that must agree for a fuzzy match: numbers and DISTINCT_WORDS. */
  readonly guard: string;
  /** The name carried a date or a format word that was dropped (a snapshot of the model). */
  readonly dated: boolean;
  /**
   * The strict key with the name's dates kept (in one spelling: "2024-05-13" and "20240513" agree),
   * when it has any: a dated snapshot that is a catalog model of its own matches by this first.
   */
  readonly snapshot?: string;
  /** An OpenRouter variant (":free", ":beta", ":extended"): its own offer and price. */
  readonly variant: boolean;
}

export function nameKey(name: string): NameKey {
  let s = name.trim().toLowerCase();
  const variant = /:[a-z][a-z-]*$/.test(s);
  // A vendor or organisation path ("openai/", "meta-llama/") is not part of the model's name.
  s = s.slice(s.lastIndexOf('/') + 1);
  // Vertex-style "@20240620" and parenthesised dates "(20241022)" are dates like any other.
  s = s.replace(/[@()]/g, '-');
  const parts = s.split(/[^a-z0-9]+/).filter(Boolean);
  let formatDropped = false;
  while (parts.length > 1 && FORMAT_WORDS.has(parts[parts.length - 1] as string)) {
    parts.pop();
    formatDropped = true;
  }
  let tokens = parts.flatMap((t) => t.match(/[a-z]+|\d+/g) ?? []);
  const before = tokens.length;
  const dates: string[] = [];
  tokens = dropDates(tokens, dates);
  while (tokens.length > 1 && FORMAT_WORDS.has(tokens[tokens.length - 1] as string)) tokens.pop();
  const dated = formatDropped || tokens.length !== before;
  while (tokens.length > 2 && VENDORS.has(tokens[0] as string)) tokens.shift();
  const strict = tokens.join('-');
  const loose = [...tokens];
  while (loose.length > 1 && TUNING_WORDS.has(loose[loose.length - 1] as string)) loose.pop();
  const guard = tokens.filter((t) => /^\d+$/.test(t) || DISTINCT_WORDS.has(t)).join('-');
  return { strict, loose: loose.join('-'), guard, dated, variant, ...(dates.length > 0 ? { snapshot: [strict, ...dates].join('-') } : {}) };
}

/**
 * Removes date tokens: YYYY MM DD, YYYYMMDD anywhere; a trailing MMDD, YYMM or 00N ("-0613", "-2411",
 * "-002"). Each date removed is added to `dates`, a full date as YYYYMMDD.
 */
function dropDates(tokens: string[], dates: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    const m = tokens[i + 1];
    const d = tokens[i + 2];
    if (/^20\d\d$/.test(t) && m && d && isMonth(m) && isDay(d) && m.length === 2 && d.length === 2) {
      dates.push(`${t}${m}${d}`);
      i += 2;
      continue;
    }
    const last = i === tokens.length - 1 && i >= 2;
    // Google's stable snapshots ("gemini-1.5-pro-002") are the model, pinned.
    if (
      (/^20\d{6}$/.test(t) && isMonth(t.slice(4, 6)) && isDay(t.slice(6, 8))) ||
      (last && /^\d{4}$/.test(t) && isDateLike4(t)) ||
      (last && /^00\d$/.test(t))
    ) {
      dates.push(t);
      continue;
    }
    out.push(t);
  }
  return out;
}

function isMonth(s: string): boolean {
  const n = Number(s);
  return /^\d{2}$/.test(s) && n >= 1 && n <= 12;
}
function isDay(s: string): boolean {
  const n = Number(s);
  return /^\d{2}$/.test(s) && n >= 1 && n <= 31;
}
/** "0613" (MMDD) or "2411" (YYMM, 2023-2029). */
function isDateLike4(s: string): boolean {
  const a = s.slice(0, 2);
  const b = s.slice(2);
  return (isMonth(a) && isDay(b)) || (Number(a) >= 23 && Number(a) <= 29 && isMonth(b));
}
