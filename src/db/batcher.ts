import { performance } from 'node:perf_hooks';

/**
 * Opportunistic batching of one kind of read, in fair shares: at most `concurrency` queries of
 * that kind are in flight; a request that finds them all busy waits, and when one comes back, the
 * waiting requests of one shape (up to `maxBatch`) go to the database together, as one query. An
 * idle server therefore sends each request on its own at once (no timer, no added latency); a busy
 * one makes fewer round trips, which is where a loaded server spends its time (a socket write and a
 * statement per query, on both sides). Waiting here replaces waiting for a pooled connection: the
 * pool's bounds still apply to every query sent.
 *
 * Fair shares (issue 19): one user's requests are in flight in at most `perUser` queries' worth
 * (half the slots, at least 1), so one user's slow reads leave the other slots to everyone else;
 * their next request waits for one of their own to come back, while the other users' requests go
 * ahead of it. A batch carries at most each user's share of requests, except a batch that is one
 * user's alone: it carries all of that user's waiting requests of its shape (up to `maxBatch`),
 * still in that user's one query. Shapes take turns: after a batch, the shape that has waited
 * longest goes next.
 *
 * A slow user is not batched with others: a query that fails on the statement timeout (`isTimeout`)
 * with several users in it is read again user by user, so the others get their pages and the one
 * whose read is slow on its own is found; a user whose read alone took `slowMs` or more, or whose
 * batch did, is read alone for `unbatchedMs` (until a read alone shows it fast again).
 *
 * No request waits here longer than `maxWaitMs` (as no request waits longer than that for a
 * pooled connection): past it, it fails with an error whose message starts "Batch wait timeout",
 * which db/errors.ts reports as the database being too slow (503, retry later).
 */
export class Batcher<T, R> {
  readonly #concurrency: number;
  readonly #perUser: number;
  readonly #maxBatch: number;
  readonly #runOne: (shape: string, item: T) => Promise<R>;
  readonly #runMany: (shape: string, items: T[]) => Promise<R[]>;
  readonly #maxWaitMs: number;
  readonly #isTimeout: (err: unknown) => boolean;
  readonly #alone: (item: T) => boolean;
  readonly #slowMs: number;
  readonly #unbatched: ExpiringSet;
  /** Sweeps out requests that have waited too long, while any wait. */
  #sweeper: NodeJS.Timeout | undefined;
  /** Waiting requests by shape, shapes in the order of their turns. */
  readonly #waiting = new Map<string, Array<Waiting<T, R>>>();
  #inFlight = 0;
  /** Requests in flight by user; a user goes once none is. */
  readonly #userInFlight = new Map<string, number>();

  constructor(options: {
    concurrency: number;
    maxBatch: number;
    /** Bound on a request's wait for its turn. */
    maxWaitMs: number;
    /** One request, as it would run unbatched. */
    runOne: (shape: string, item: T) => Promise<R>;
    /** Several requests of one shape in one query: one result per item, in the items' order. */
    runMany: (shape: string, items: T[]) => Promise<R[]>;
    /** Whether a request is always read on its own (never batched). */
    alone?: (item: T) => boolean;
    /** Whether a query's failure is the statement timeout (its cost, not an outage). */
    isTimeout?: (err: unknown) => boolean;
    /** A query of one user that takes this long marks the user as slow (not batched). */
    slowMs?: number;
    /** How long a slow user stays unbatched. */
    unbatchedMs?: number;
    /** At most this many users are remembered as slow at once (the oldest go first). */
    maxUnbatched?: number;
  }) {
    this.#concurrency = Math.max(1, options.concurrency);
    this.#perUser = Math.max(1, Math.floor(this.#concurrency / 2));
    this.#maxBatch = Math.max(1, options.maxBatch);
    this.#runOne = options.runOne;
    this.#runMany = options.runMany;
    this.#maxWaitMs = options.maxWaitMs;
    this.#isTimeout = options.isTimeout ?? (() => false);
    this.#alone = options.alone ?? (() => false);
    this.#slowMs = options.slowMs ?? Infinity;
    this.#unbatched = new ExpiringSet(options.unbatchedMs ?? 60_000, options.maxUnbatched ?? 10_000);
  }

  /** One user's request; `user` is whose share it counts against. */
  run(shape: string, item: T, user: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiting = { item, user, resolve, reject, since: performance.now() };
      const queue = this.#waiting.get(shape);
      if (queue) queue.push(waiting);
      else this.#waiting.set(shape, [waiting]);
      this.#pump();
      if (this.#waiting.size > 0) {
        this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(10, Math.min(100, this.#maxWaitMs / 4))).unref();
      }
    });
  }

  /** Whether `user`'s reads are read alone now (a slow user: see the class). */
  unbatched(user: string): boolean {
    return this.#unbatched.has(user);
  }

  /** Requests in flight and waiting (for gauges and tests). */
  stats(): { inFlight: number; users: number; waiting: number } {
    let waiting = 0;
    for (const queue of this.#waiting.values()) waiting += queue.length;
    return { inFlight: this.#inFlight, users: this.#userInFlight.size, waiting };
  }

  #inFlightOf(user: string): number {
    return this.#userInFlight.get(user) ?? 0;
  }

  /** Sends batches while a slot is free and some request may go. */
  #pump(): void {
    while (this.#inFlight < this.#concurrency) {
      const next = this.#pick();
      if (!next) return;
      this.#send(next.shape, next.batch);
    }
  }

  /**
   * The next batch: of the first shape in turn with a request of a user who has nothing in flight
   * (everyone's first request goes ahead of anyone's second), else of the first shape with any
   * request whose user is within their share. Its requests are that shape's, in order of arrival,
   * each user within their share; a slow user's request goes alone.
   */
  #pick(): { shape: string; batch: Array<Waiting<T, R>> } | undefined {
    let chosen: string | undefined;
    let fallback: string | undefined;
    for (const [shape, queue] of this.#waiting) {
      for (const w of queue) {
        const inFlight = this.#inFlightOf(w.user);
        if (inFlight === 0) chosen = shape;
        else if (inFlight < this.#perUser) fallback ??= shape;
        if (chosen) break;
      }
      if (chosen) break;
    }
    const shape = chosen ?? fallback;
    if (shape === undefined) return undefined;
    const queue = this.#waiting.get(shape) ?? [];
    const taken = new Map<string, number>();
    const batch: Array<Waiting<T, R>> = [];
    const left: Array<Waiting<T, R>> = [];
    for (const w of queue) {
      const count = this.#inFlightOf(w.user) + (taken.get(w.user) ?? 0);
      const fits =
        batch.length < this.#maxBatch &&
        count < this.#perUser &&
        (!chosen || this.#inFlightOf(w.user) === 0) &&
        // A slow user's request (or one that is never batched) goes alone, and nothing joins it.
        !(batch[0] && (this.#solo(w) || this.#solo(batch[0])));
      if (fits) {
        batch.push(w);
        taken.set(w.user, (taken.get(w.user) ?? 0) + 1);
      } else {
        left.push(w);
      }
    }
    // A batch of one user's request and nobody else's (no other user's request of this shape could
    // go) takes the rest of that user's waiting requests of this shape, up to maxBatch: they are read
    // in the one query their share holds anyway, so the other slots stay everyone else's, and a user
    // who is alone in asking is not read one page at a time while the server has room. (Not a slow
    // user's, which go alone.) Each of them counts against the user's share until the query is back.
    const [head] = batch;
    if (head && batch.length === 1 && !this.#solo(head)) {
      const rest = left.splice(0);
      for (const w of rest) {
        if (batch.length < this.#maxBatch && w.user === head.user && !this.#solo(w)) batch.push(w);
        else left.push(w);
      }
    }
    // Done with this shape for now; whatever is left of it goes behind the other shapes.
    this.#waiting.delete(shape);
    if (left.length > 0) this.#waiting.set(shape, left);
    return { shape, batch };
  }

  #solo(w: Waiting<T, R>): boolean {
    return this.#alone(w.item) || this.#unbatched.has(w.user);
  }

  #send(shape: string, batch: Array<Waiting<T, R>>): void {
    this.#inFlight += 1;
    for (const w of batch) this.#userInFlight.set(w.user, this.#inFlightOf(w.user) + 1);
    // #query settles every request itself and never rejects.
    void this.#query(shape, batch, true).finally(() => {
      this.#inFlight -= 1;
      for (const w of batch) {
        const left = this.#inFlightOf(w.user) - 1;
        if (left > 0) this.#userInFlight.set(w.user, left);
        else this.#userInFlight.delete(w.user);
      }
      this.#pump();
    });
  }

  /**
   * Reads `batch` in one query and settles its requests. When it fails on the statement timeout
   * with several users in it (and `split`), each user's requests are read again on their own, at
   * once and within this query's slot: the others' reads are fast and succeed; the slow one fails
   * on its own timeout and is marked.
   */
  async #query(shape: string, batch: Array<Waiting<T, R>>, split: boolean): Promise<void> {
    const [first] = batch;
    if (!first) return;
    const users = new Set(batch.map((w) => w.user));
    const started = performance.now();
    try {
      const results =
        batch.length === 1
          ? [await this.#runOne(shape, first.item)]
          : await this.#runMany(
              shape,
              batch.map((w) => w.item),
            );
      const slow = performance.now() - started >= this.#slowMs;
      for (const user of users) {
        // Alone and fast: whatever this user was suspected of is over. Slow (alone, or in a batch
        // whose slow one is not known): read alone for a while, until a fast read clears it.
        if (slow) this.#unbatched.add(user);
        else if (users.size === 1) this.#unbatched.delete(user);
      }
      batch.forEach((w, i) => w.resolve(results[i] as R));
    } catch (err) {
      if (split && users.size > 1 && this.#isTimeout(err)) {
        await Promise.all(
          [...users].map((user) =>
            this.#query(
              shape,
              batch.filter((w) => w.user === user),
              false,
            ),
          ),
        );
        return;
      }
      if (users.size === 1 && this.#isTimeout(err)) this.#unbatched.add(first.user);
      // One query for all of them: its failure (an outage, a timeout) is each one's.
      for (const w of batch) w.reject(err);
    }
  }

  /**
   * Milliseconds the longest-waiting request has waited for a free slot (queued database work);
   * 0 when none waits. A request waiting only because its user already has their share in flight
   * does not count: one user's pile of reads must not make the server look overloaded.
   */
  oldestWaitMs(now = performance.now()): number {
    let oldest = now;
    for (const queue of this.#waiting.values()) {
      for (const w of queue) {
        if (this.#inFlightOf(w.user) < this.#perUser) {
          oldest = Math.min(oldest, w.since);
          // Queues are in order of arrival: the first that counts is the shape's oldest.
          break;
        }
      }
    }
    return now - oldest;
  }

  /** Fails the requests that have waited longer than maxWaitMs; they never reach the database. */
  #sweep(): void {
    const now = performance.now();
    for (const [shape, queue] of this.#waiting) {
      const expired = queue.filter((w) => now - w.since > this.#maxWaitMs);
      if (expired.length === 0) continue;
      const left = queue.filter((w) => now - w.since <= this.#maxWaitMs);
      if (left.length > 0) this.#waiting.set(shape, left);
      else this.#waiting.delete(shape);
      for (const w of expired) {
        const own = this.#inFlightOf(w.user) >= this.#perUser;
        w.reject(
          new Error(
            own
              ? `Batch wait timeout: this user's ${this.#perUser} reads in flight did not finish within ${this.#maxWaitMs} ms`
              : `Batch wait timeout: no turn within ${this.#maxWaitMs} ms`,
          ),
        );
      }
    }
    if (this.#waiting.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

interface Waiting<T, R> {
  /** When it started waiting (performance.now()). */
  since: number;
  user: string;
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Keys remembered for `ttlMs` each, at most `max` at once (the oldest forgotten first): the users
 * are the server's own (from verified tokens), but nothing a client does grows a store unbounded.
 */
class ExpiringSet {
  readonly #ttlMs: number;
  readonly #max: number;
  /** Key -> when it expires (performance.now()); in order of expiry, since the TTL is one. */
  readonly #entries = new Map<string, number>();

  constructor(ttlMs: number, max: number) {
    this.#ttlMs = ttlMs;
    this.#max = Math.max(1, max);
  }

  has(key: string): boolean {
    const expires = this.#entries.get(key);
    if (expires === undefined) return false;
    if (expires > performance.now()) return true;
    this.#entries.delete(key);
    return false;
  }

  add(key: string): void {
    const now = performance.now();
    this.#entries.delete(key);
    for (const [old, expires] of this.#entries) {
      if (expires > now && this.#entries.size < this.#max) break;
      this.#entries.delete(old);
    }
    this.#entries.set(key, now + this.#ttlMs);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
