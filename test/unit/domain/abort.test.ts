import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { Aborter } from '../../../src/domain/abort.js';

describe('Aborter', () => {
  it('aborts once: the first reason wins, listeners and onabort run once, throwIfAborted throws the reason', () => {
    const aborter = new Aborter();
    const { signal } = aborter;
    const listener = vi.fn();
    const onabort = vi.fn();
    signal.addEventListener('abort', listener, { once: true });
    signal.onabort = onabort;
    expect(signal.aborted).toBe(false);
    expect(() => signal.throwIfAborted()).not.toThrow();

    aborter.abort(new Error('first'));
    aborter.abort(new Error('second'));

    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('first');
    expect(listener).toHaveBeenCalledTimes(1);
    expect(onabort).toHaveBeenCalledTimes(1);
    expect(() => signal.throwIfAborted()).toThrow('first');
  });

  it('without a reason, the reason is an AbortError as with AbortController', () => {
    const aborter = new Aborter();
    aborter.abort();
    const native = new AbortController();
    native.abort();
    expect(aborter.signal.reason).toBeInstanceOf(DOMException);
    expect((aborter.signal.reason as DOMException).name).toBe((native.signal.reason as DOMException).name);
  });

  it('a removed listener is not called', () => {
    const aborter = new Aborter();
    const listener = vi.fn();
    aborter.signal.addEventListener('abort', listener);
    aborter.signal.removeEventListener('abort', listener);
    aborter.abort();
    expect(listener).not.toHaveBeenCalled();
  });

  it('Node’s own APIs take it as a signal: a sleep and a wait for an event end with its reason', async () => {
    const aborter = new Aborter();
    const asleep = sleep(60_000, undefined, { signal: aborter.signal });
    const waiting = once(new EventEmitter(), 'never', { signal: aborter.signal });
    const reason = new Error('the client cancelled the call');
    aborter.abort(reason);
    await expect(asleep).rejects.toMatchObject({ cause: reason });
    await expect(waiting).rejects.toMatchObject({ cause: reason });
  });
});
