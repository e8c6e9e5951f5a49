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
