/**
 * Each user's share of the pool: at most `perUser` of one user's statements are in flight (holding
 * or waiting for a pooled connection) at once; the rest of that user's work waits here, in order,
 * for at most `maxWaitMs` (then it fails with an error whose message starts "Pool share wait
 * timeout", which db/errors.ts reports as 503, retry later). Without it, ten updates of one user
 * waiting on a row lock held the whole pool and another user's read waited for a connection
 * until it failed (issue 21).
 *
 * Every repository method runs its statements through `run`, named by the user they are for (the
 * owner of the tasks, the viewer being looked up), but for page reads without a search: the page
 * batcher holds each user to their share of its slots (half of DB_PAGE_CONCURRENCY, one query with
 * the default), and a user's waiting pages are read together in that query. A statement written
 * for several users at once (a batch of writes) counts once for each of them.
 */
export class PoolShare {
  readonly #perUser: number;
  readonly #maxWaitMs: number;
  /** Users with work in flight; an entry goes once its last statement is done. */
  readonly #users = new Map<string, UserState>();

  constructor(options: { perUser: number; maxWaitMs: number }) {
    this.#perUser = Math.max(1, options.perUser);
    this.#maxWaitMs = options.maxWaitMs;
  }

  /** Runs `work` once `user` has fewer than `perUser` statements in flight. */
  async run<T>(user: string, work: () => Promise<T>): Promise<T> {
    await this.#acquire(user);
    try {
      return await work();
    } finally {
      this.#release(user);
    }
  }

  /** Statements in flight and waiting, over all users (for gauges). */
  stats(): { users: number; inFlight: number; waiting: number } {
    let inFlight = 0;
    let waiting = 0;
    for (const state of this.#users.values()) {
      inFlight += state.inFlight;
      waiting += state.waiting.length;
    }
    return { users: this.#users.size, inFlight, waiting };
  }

  #acquire(user: string): Promise<void> | undefined {
    let state = this.#users.get(user);
    if (!state) this.#users.set(user, (state = { inFlight: 0, waiting: [] }));
    if (state.inFlight < this.#perUser) {
      state.inFlight += 1;
      return undefined;
    }
    const queue = state.waiting;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1);
          reject(new Error(`Pool share wait timeout: this user's ${this.#perUser} statements in flight did not finish within ${this.#maxWaitMs} ms`));
        }, this.#maxWaitMs),
      };
      queue.push(waiter);
    });
  }

  #release(user: string): void {
    const state = this.#users.get(user);
    if (!state) return;
    // The slot passes straight to the user's next statement, if one waits.
    const next = state.waiting.shift();
    if (next) {
      next.grant();
      return;
    }
    state.inFlight -= 1;
    if (state.inFlight === 0) this.#users.delete(user);
  }
}

interface UserState {
  inFlight: number;
  waiting: Waiter[];
}

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}
