/**
 * The one way a test waits for something the server does in its own time: poll until it is so.
 *
 * The bound is there so that a test that would wait forever fails with a message instead; it is
 * never what a test asserts. It is generous (a busy CI machine can stall a process for seconds) and
 * below Jest's test timeout, so that the message names what did not happen. A test that asserts how
 * quickly something happens measures it with `npm run bench`, not here.
 */
export const WAIT_MS = 30_000;

/** How often `check` runs. */
const INTERVAL_MS = 20;

/**
 * Polls `check` until it returns a value other than undefined (false counts as a value: return
 * undefined to keep waiting), and resolves with it; rejects naming `what` after `timeoutMs`.
 */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number = WAIT_MS,
  what: string | (() => string) = 'a condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
  }
}

/** `eventually` for a yes/no condition: resolves once `check` returns true. */
export async function until(what: string | (() => string), check: () => boolean | Promise<boolean>, timeoutMs: number = WAIT_MS): Promise<void> {
  await eventually(async () => ((await check()) ? true : undefined), timeoutMs, what);
}
