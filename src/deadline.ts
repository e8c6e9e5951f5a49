/**
 * `promise`, or a rejection naming `what` once `ms` have passed: a bound on a wait that has no
 * timeout of its own (closing a pool, a LISTEN connection's heartbeat).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    // setImmediate: after a blocked event loop, the timer and the answer are both due at once and
    // timers run first; the answer, read in the poll phase before it, then still wins.
    timer = setTimeout(() => setImmediate(() => reject(new Error(`${what} took longer than ${ms} ms`))), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** How often `withLoopDeadline` looks at the clock. */
const TICK_MS = 100;

/**
 * `withDeadline` that counts only time during which the event loop was free to read the answer:
 * a tick every 100 ms adds at most 2 ticks' worth however late it runs, so seconds spent on other
 * work (a burst of parsing, a long GC) are not blamed on the peer. For a heartbeat, whose
 * failure closes every socket of the instance: a busy process is not a lost connection.
 */
export function withLoopDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    let waited = 0;
    let last = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      waited += Math.min(now - last, 2 * TICK_MS);
      last = now;
      // setImmediate: an answer that arrived while the loop was busy is read in the poll phase
      // between this timer and the check phase, and wins the race.
      if (waited >= ms) setImmediate(() => reject(new Error(`${what} took longer than ${ms} ms`)));
    }, TICK_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearInterval(timer));
}
