import { describe, expect, it } from 'vitest';
import { StartedResources } from '../../src/started-resources.js';

describe('StartedResources', () => {
  it('closes last first, one close finished before the next begins, each told how', async () => {
    const started = new StartedResources<string>();
    const seen: string[] = [];
    for (const name of ['simulator', 'redis', 'ledger', 'doors']) {
      started.add(async (how) => {
        seen.push(`${name} ${how}`);
        await new Promise((r) => setImmediate(r));
        seen.push(`${name} closed`);
      });
    }
    await started.closeAll('at once');
    expect(seen).toEqual([
      'doors at once',
      'doors closed',
      'ledger at once',
      'ledger closed',
      'redis at once',
      'redis closed',
      'simulator at once',
      'simulator closed',
    ]);
  });

  it('closes the rest when one close fails, then throws the first failure', async () => {
    const started = new StartedResources<undefined>();
    const closed: string[] = [];
    started.add(() => closed.push('first opened'));
    started.add(() => {
      throw new Error('ledger would not close');
    });
    started.add(() => Promise.reject(new Error('server would not close')));
    started.add(() => closed.push('last opened'));
    await expect(started.closeAll(undefined)).rejects.toThrow('server would not close');
    expect(closed).toEqual(['last opened', 'first opened']);
  });

  it('closes each thing once: a second closeAll waits for the first instead of closing again', async () => {
    const started = new StartedResources<number>();
    let release: () => void = () => undefined;
    const graces: number[] = [];
    started.add(async (graceMs) => {
      graces.push(graceMs);
      await new Promise<void>((r) => (release = r));
    });
    let firstDone = false;
    const first = started.closeAll(1_000).then(() => (firstDone = true));
    let secondDone = false;
    const second = started.closeAll(0).then(() => (secondDone = true));
    await new Promise((r) => setImmediate(r));
    expect([firstDone, secondDone]).toEqual([false, false]);
    release();
    await Promise.all([first, second]);
    expect(graces).toEqual([1_000]);
  });

  it('closes nothing when nothing was opened', async () => {
    await expect(new StartedResources<undefined>().closeAll(undefined)).resolves.toBeUndefined();
  });
});
