/**
 * Opportunistic batching of writes, on the pattern of db/batcher.ts (page reads): at most
 * `concurrency` write statements are in flight; a write that finds them all busy waits, and when
 * one comes back, the writes of one shape that waited (up to `maxBatch`) go to the database as one
 * statement. An idle server sends each write at once (no timer, no added latency); a busy one
 * commits many rows per statement and per transaction, which is where a loaded database spends its
 * time on writes (a statement, a commit and its WAL flush, the triggers' setup, per write).
 *
 * Unlike a batch of reads, a batch of writes must not let one write's failure become another's:
 *
 * - `runMany` answers each item on its own: its result, or `ALONE` when the statement left it out
 *   and it must be run by itself (a row locked elsewhere, skipped rather than waited for; a second
 *   write of the same row). Those run through `runOne` once the batch is done, outside the
 *   `concurrency` slots (a lock wait must not hold a slot that everyone's writes need).
 * - When the batch's statement fails and `retryAlone(err)` says that nothing of it was written (an
 *   error raised by PostgreSQL for the statement: a quota refused for one row, a missing owner,
 *   a lock not granted in time), every item is run by itself, so that each gets its own answer.
 *   Otherwise (the connection lost, which may have been after the commit) the error is every
 *   item's: retrying could write twice.
 * - A batch of one item that fails: the error is that item's own, as it would be unbatched.
 *
 * No write waits here longer than `maxWaitMs`: past it, it fails with an error whose message
 * starts "Batch wait timeout" (db/errors.ts: 503, retry later), having written nothing.
 */
export const ALONE: unique symbol = Symbol('run alone');

export class WriteBatcher<T, R> {
  readonly #concurrency: number;
  readonly #maxBatch: number;
  readonly #maxWaitMs: number;
  readonly #runOne: (shape: string, item: T) => Promise<R>;
  readonly #runMany: (shape: string, items: T[]) => Promise<Array<R | typeof ALONE>>;
  readonly #retryAlone: (err: unknown) => boolean;
  readonly #onBatch: (shape: string, size: number) => void;
  /** Sweeps out writes that have waited too long, while any wait. */
  #sweeper: NodeJS.Timeout | undefined;
  /** Waiting writes by shape, shapes in the order they started waiting. */
  readonly #waiting = new Map<string, Array<Waiting<T, R>>>();
  #inFlight = 0;

  constructor(options: {
    concurrency: number;
    maxBatch: number;
    /** Bound on a write's wait for its turn. */
    maxWaitMs: number;
    /** One write, as it would run unbatched (waiting for locks within the statement's bounds). */
    runOne: (shape: string, item: T) => Promise<R>;
    /** Writes of one shape in one statement (also a batch of one): per item, in the items' order, its result or ALONE. */
    runMany: (shape: string, items: T[]) => Promise<Array<R | typeof ALONE>>;
    /** Whether a batch that failed with `err` wrote nothing, so that each of its items may be run alone. */
    retryAlone: (err: unknown) => boolean;
    /** Told the size of every statement sent (1: a write sent alone, also one run alone after its batch). */
    onBatch?: (shape: string, size: number) => void;
  }) {
    this.#concurrency = Math.max(1, options.concurrency);
    this.#maxBatch = Math.max(1, options.maxBatch);
    this.#maxWaitMs = options.maxWaitMs;
    this.#runOne = options.runOne;
    this.#runMany = options.runMany;
    this.#retryAlone = options.retryAlone;
    this.#onBatch = options.onBatch ?? (() => {});
  }

  run(shape: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.#inFlight < this.#concurrency) {
        this.#send(shape, [{ item, resolve, reject, since: 0 }]);
        return;
      }
      const waiting = { item, resolve, reject, since: performance.now() };
      const queue = this.#waiting.get(shape);
      if (queue) queue.push(waiting);
      else this.#waiting.set(shape, [waiting]);
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(10, Math.min(100, this.#maxWaitMs / 4))).unref();
    });
  }

  /** Writes waiting for their turn. */
  waiting(): number {
    let n = 0;
    for (const queue of this.#waiting.values()) n += queue.length;
    return n;
  }

  /** Milliseconds the longest-waiting write has waited for its turn; 0 when none waits. */
  oldestWaitMs(now = performance.now()): number {
    let oldest = now;
    for (const queue of this.#waiting.values()) oldest = Math.min(oldest, queue[0]?.since ?? now);
    return now - oldest;
  }

  #send(shape: string, batch: Array<Waiting<T, R>>): void {
    this.#inFlight += 1;
    this.#onBatch(shape, batch.length);
    let alone: Array<Waiting<T, R>> = [];
    this.#runMany(
      shape,
      batch.map((w) => w.item),
    )
      .then(
        (results) => {
          batch.forEach((w, i) => {
            const result = results[i];
            if (result === ALONE) alone.push(w);
            else w.resolve(result as R);
          });
        },
        (err: unknown) => {
          if (batch.length > 1 && this.#retryAlone(err)) {
            alone = batch;
            return;
          }
          batch.forEach((w) => {
            w.reject(err);
          });
        },
      )
      .finally(() => {
        this.#inFlight -= 1;
        this.#next();
        // After the slot is free: a write run alone may wait for a lock, within its statement's bounds.
        for (const w of alone) {
          this.#onBatch(shape, 1);
          this.#runOne(shape, w.item).then(w.resolve, w.reject);
        }
      });
  }

  #next(): void {
    const oldest = this.#waiting.entries().next();
    if (oldest.done) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
      return;
    }
    const [shape, queue] = oldest.value;
    const batch = queue.splice(0, this.#maxBatch);
    // Done with this shape for now; whatever is left of it goes behind the other shapes.
    this.#waiting.delete(shape);
    if (queue.length > 0) this.#waiting.set(shape, queue);
    this.#send(shape, batch);
  }

  /** Fails the writes that have waited longer than maxWaitMs; they never reach the database. */
  #sweep(): void {
    const now = performance.now();
    for (const [shape, queue] of this.#waiting) {
      const expired = queue.filter((w) => now - w.since > this.#maxWaitMs);
      if (expired.length === 0) continue;
      const left = queue.filter((w) => now - w.since <= this.#maxWaitMs);
      if (left.length > 0) this.#waiting.set(shape, left);
      else this.#waiting.delete(shape);
      for (const w of expired) w.reject(new Error(`Batch wait timeout: no turn for a write within ${this.#maxWaitMs} ms`));
    }
    if (this.#waiting.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

interface Waiting<T, R> {
  /** When it started waiting (performance.now()); 0 for a write sent at once. */
  since: number;
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}
