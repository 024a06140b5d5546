import { describe, expect, it } from 'vitest';
import { loopHeldMs } from '../../helpers/loop-delay.js';

const holdLoop = (ms: number): void => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Holds the event loop, as a synchronous stall in the code under test would.
  }
};

describe('loopHeldMs', () => {
  it('measures a block of the event loop just before the run settles', async () => {
    const held = await loopHeldMs(async () => {
      await new Promise((r) => setTimeout(r, 20));
      holdLoop(200);
    });
    expect(held).toBeGreaterThanOrEqual(190);
  });

  it('measures a block in the middle of the run', async () => {
    const held = await loopHeldMs(async () => {
      await new Promise((r) => setTimeout(r, 20));
      holdLoop(200);
      await new Promise((r) => setTimeout(r, 20));
    });
    expect(held).toBeGreaterThanOrEqual(190);
  });

  it('a run that does not hold the loop measures well below such a block', async () => {
    const held = await loopHeldMs(() => new Promise((r) => setTimeout(r, 100)));
    expect(held).toBeLessThan(150);
  });
});
