import { isHighSurrogate } from '../domain/characters.js';
import type { ToolCallDelta } from '../domain/tools.js';
import { extend } from '../domain/extend.js';

/** A streamed delta: text, or (with content '') a piece of a tool call or of a refusal. */
export interface TextDelta {
  readonly type: 'delta';
  readonly content: string;
  readonly toolCall?: ToolCallDelta | undefined;
  readonly refusal?: string | undefined;
}

/**
 * Puts back together a character an upstream split between two deltas: a server slicing UTF-16
 * (JavaScript's strings) may send the two halves of a surrogate pair apart. A lone half is no
 * text: gRPC's UTF-8 turns it into U+FFFD, and an HTTP client's JSON gets an escape that Python
 * cannot encode. So a delta's trailing high surrogate waits for the next delta of its kind (the
 * text, the refusal, or the same tool call's arguments), and whatever still waits at the end goes out as it
 * came. A delta that ends in anything else costs one charCodeAt.
 */
export class SurrogateJoiner {
  private text = '';
  private refusal = '';
  /** A held half of tool-call arguments, by the call's index; a map since calls may interleave. */
  private args: Map<number, string> | undefined;

  /** The delta to relay, or undefined when all it carried now waits for its other half. */
  pass(delta: TextDelta): TextDelta | undefined {
    const call = delta.toolCall;
    if (call) return this.args === undefined && !endsInHalf(call.arguments) ? delta : this.passArguments(delta, call);
    const refusal = delta.refusal;
    if (refusal !== undefined) {
      if (this.refusal === '' && !endsInHalf(refusal)) return delta;
      const joined = this.joined(this.refusal + refusal);
      this.refusal = joined.held;
      return joined.text === '' ? undefined : { type: 'delta', content: '', refusal: joined.text };
    }
    if (this.text === '' && !endsInHalf(delta.content)) return delta;
    const joined = this.joined(this.text + delta.content);
    this.text = joined.held;
    return joined.text === '' ? undefined : { type: 'delta', content: joined.text };
  }

  /** What still waits, as deltas: halves that nothing completed. */
  flush(): TextDelta[] {
    const held: TextDelta[] = [];
    if (this.text !== '') held.push({ type: 'delta', content: this.text });
    if (this.refusal !== '') held.push({ type: 'delta', content: '', refusal: this.refusal });
    for (const [index, args] of this.args ?? []) held.push({ type: 'delta', content: '', toolCall: { index, arguments: args } });
    this.text = '';
    this.refusal = '';
    this.args = undefined;
    return held;
  }

  /** `text` split into what goes out now and the half character that waits. */
  private joined(text: string): { readonly text: string; readonly held: string } {
    return endsInHalf(text) ? { text: text.slice(0, -1), held: text.slice(-1) } : { text, held: '' };
  }

  private passArguments(delta: TextDelta, call: ToolCallDelta): TextDelta | undefined {
    const held = this.args?.get(call.index);
    let args = held === undefined ? call.arguments : held + call.arguments;
    this.args?.delete(call.index);
    if (endsInHalf(args)) {
      this.args ??= new Map();
      this.args.set(call.index, args.slice(-1));
      args = args.slice(0, -1);
    }
    if (this.args?.size === 0) this.args = undefined;
    if (held === undefined && args === call.arguments) return delta;
    // A call's first piece (its id and name) goes out even with no arguments yet.
    if (args === '' && !call.id && !call.name) return undefined;
    return { type: 'delta', content: delta.content, toolCall: extend(call, { arguments: args }) };
  }
}

const endsInHalf = (text: string): boolean => isHighSurrogate(text.charCodeAt(text.length - 1));
