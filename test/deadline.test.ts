import { describe, expect, it } from '@jest/globals';
import { withLoopDeadline } from '../src/deadline.ts';

/**
 * The bound on the LISTEN connection's heartbeat (src/db/listener.ts): when it passes, every
 * socket of the instance is closed with 1013. It must count time the process could have read the
 * answer, not time spent on other work.
 */

/** Holds the event loop for `ms`, as a burst of synchronous work would. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Resolves after `turns` turns of the event loop (one setImmediate each). */
function turns(n: number): Promise<string> {
  return new Promise((resolve) => {
    const next = (left: number) => (left === 0 ? resolve('answered') : setImmediate(() => next(left - 1)));
    next(n);
  });
}

describe('withLoopDeadline', () => {
  it('does not count a blocked event loop against the bound', async () => {
    // The answer is due a few turns after the loop is free again; the loop is held three times as
    // long as the bound.
    const answer = new Promise<string>((resolve) => setTimeout(() => void turns(5).then(resolve), 10));
    const bounded = withLoopDeadline(answer, 300, 'heartbeat');
    setTimeout(() => busy(900), 0);
    await expect(bounded).resolves.toBe('answered');
  });

  it('still rejects an answer that never comes, naming the wait', async () => {
    await expect(withLoopDeadline(new Promise(() => {}), 300, 'heartbeat')).rejects.toThrow('heartbeat took longer than 300 ms');
  });
});
