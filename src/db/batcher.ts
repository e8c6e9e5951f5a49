/**
 * Opportunistic batching of one kind of read: at most `concurrency` queries of that kind are in
 * flight; a request that finds them all busy waits, and when one comes back, every waiting request
 * of the same shape (up to `maxBatch`) goes to the database together, as one query. An idle server
 * therefore sends each request on its own at once (no timer, no added latency); a busy one makes
 * fewer round trips, which is where a loaded server spends its time (a socket write and a statement
 * per query, on both sides). Waiting here replaces waiting for a pooled connection: the pool's
 * bounds still apply to every query sent.
 *
 * Shapes take turns: after a batch, the shape that has waited longest goes next. No request waits
 * here longer than `maxWaitMs` (as no request waits longer than that for a pooled connection): past
 * it, it fails with an error whose message starts "Batch wait timeout", which db/errors.ts reports
 * as the database being too slow (503, retry later).
 */
export class Batcher<T, R> {
  readonly #concurrency: number;
  readonly #maxBatch: number;
  readonly #runOne: (shape: string, item: T) => Promise<R>;
  readonly #runMany: (shape: string, items: T[]) => Promise<R[]>;
  readonly #maxWaitMs: number;
  /** Sweeps out requests that have waited too long, while any wait. */
  #sweeper: NodeJS.Timeout | undefined;
  /** Waiting requests by shape, shapes in the order they started waiting. */
  readonly #waiting = new Map<string, Array<Waiting<T, R>>>();
  #inFlight = 0;

  constructor(options: {
    concurrency: number;
    maxBatch: number;
    /** Bound on a request's wait for its turn. */
    maxWaitMs: number;
    /** One request, as it would run unbatched. */
    runOne: (shape: string, item: T) => Promise<R>;
    /** Several requests of one shape in one query: one result per item, in the items' order. */
    runMany: (shape: string, items: T[]) => Promise<R[]>;
  }) {
    this.#concurrency = Math.max(1, options.concurrency);
    this.#maxBatch = Math.max(1, options.maxBatch);
    this.#runOne = options.runOne;
    this.#runMany = options.runMany;
    this.#maxWaitMs = options.maxWaitMs;
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

  #send(shape: string, batch: [Waiting<T, R>, ...Array<Waiting<T, R>>]): void {
    this.#inFlight += 1;
    const work =
      batch.length === 1
        ? this.#runOne(shape, batch[0].item).then((result) => [result])
        : this.#runMany(
            shape,
            batch.map((w) => w.item),
          );
    work
      .then(
        (results) => {
          batch.forEach((w, i) => {
            w.resolve(results[i] as R);
          });
        },
        // One query for all of them: its failure (an outage, a timeout) is each one's.
        (err: unknown) => {
          batch.forEach((w) => {
            w.reject(err);
          });
        },
      )
      .finally(() => {
        this.#inFlight -= 1;
        this.#next();
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
    // A shape is in the map only while some of it waits: the batch is never empty.
    const batch = queue.splice(0, this.#maxBatch) as [Waiting<T, R>, ...Array<Waiting<T, R>>];
    // Done with this shape for now; whatever is left of it goes behind the other shapes.
    this.#waiting.delete(shape);
    if (queue.length > 0) this.#waiting.set(shape, queue);
    this.#send(shape, batch);
  }

  /** Milliseconds the longest-waiting request has waited for its turn; 0 when none waits. */
  oldestWaitMs(now = performance.now()): number {
    let oldest = now;
    for (const queue of this.#waiting.values()) oldest = Math.min(oldest, queue[0]?.since ?? now);
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
      for (const w of expired) w.reject(new Error(`Batch wait timeout: no turn within ${this.#maxWaitMs} ms`));
    }
    if (this.#waiting.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

interface Waiting<T, R> {
  /** When it started waiting (performance.now()); 0 for a request sent at once. */
  since: number;
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}
