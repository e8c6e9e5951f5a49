import type { PgListener } from '../db/listener.ts';
import { ServiceUnavailable } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** The PostgreSQL channel the task table's triggers notify on (see the notify_changes migration). */
export const TASK_EVENTS_CHANNEL = 'task_events';

export type TaskChangeKind = 'CREATED' | 'UPDATED' | 'DELETED';

/** What a notification says: ids only, never the row (it is re-read as the subscriber). */
export interface TaskChange {
  kind: TaskChangeKind;
  taskId: string;
  ownerId: string;
}

/** Changes of one owner's tasks, in commit order, until `return()` or an error. */
export type TaskChangeStream = AsyncIterableIterator<TaskChange> & { return(): Promise<IteratorResult<TaskChange>> };

/** Events a subscriber may fall behind by before its stream fails (its client then resyncs). */
const MAX_QUEUED = 1_000;

function parse(payload: string): TaskChange | undefined {
  try {
    const value = JSON.parse(payload) as Partial<TaskChange>;
    if (
      (value.kind === 'CREATED' || value.kind === 'UPDATED' || value.kind === 'DELETED') &&
      typeof value.taskId === 'string' &&
      typeof value.ownerId === 'string'
    ) {
      return { kind: value.kind, taskId: value.taskId, ownerId: value.ownerId };
    }
  } catch {
    // reported below
  }
  return undefined;
}

/**
 * Fans the instance's task notifications out to subscribers, indexed by owner: an event costs a
 * map lookup, not a check per open subscription, and reaches nobody but its owner's streams.
 * When the LISTEN connection is lost, notifications in between are gone: every open stream fails
 * with ServiceUnavailable (clients resubscribe and refetch), and new ones are refused until the
 * connection is back.
 */
export class TaskEventBus {
  readonly #byOwner = new Map<string, Set<Subscriber>>();
  readonly #listener: PgListener;
  readonly #logger: Logger;

  constructor(listener: PgListener, logger: Logger) {
    this.#listener = listener;
    this.#logger = logger;
    listener.on(TASK_EVENTS_CHANNEL, (payload) => this.#dispatch(payload));
    listener.onState((up) => {
      if (up) return;
      for (const set of this.#byOwner.values())
        for (const s of set) s.fail(new ServiceUnavailable('Live updates were interrupted; subscribe again and refetch.', 1));
    });
  }

  /** Open streams, for metrics and tests. */
  get size(): number {
    let n = 0;
    for (const set of this.#byOwner.values()) n += set.size;
    return n;
  }

  /** A stream of the owner's task changes from now on. */
  subscribe(ownerId: string): TaskChangeStream {
    if (!this.#listener.up) throw new ServiceUnavailable('Live updates are unavailable right now; try again shortly.', 1);
    let set = this.#byOwner.get(ownerId);
    if (!set) this.#byOwner.set(ownerId, (set = new Set()));
    const subscriber = new Subscriber(() => {
      set.delete(subscriber);
      if (set.size === 0 && this.#byOwner.get(ownerId) === set) this.#byOwner.delete(ownerId);
    });
    set.add(subscriber);
    return subscriber.stream;
  }

  #dispatch(payload: string): void {
    const change = parse(payload);
    if (!change) {
      this.#logger.warn({ payload }, 'ignored a malformed task notification');
      return;
    }
    // One object for all of the owner's streams: the service shares the re-read between them.
    for (const s of this.#byOwner.get(change.ownerId) ?? []) s.push(change);
  }
}

/**
 * A queue with a pending read. Written by hand, not as an async generator: a generator waiting
 * for its next event cannot be ended by `return()` until that event comes, which would keep every
 * closed socket's subscription alive until its owner's next change.
 */
class Subscriber {
  readonly #queue: TaskChange[] = [];
  #waiting: { resolve: (r: IteratorResult<TaskChange>) => void; reject: (e: unknown) => void } | undefined;
  #error: Error | undefined;
  #done = false;
  readonly #onEnd: () => void;
  readonly stream: TaskChangeStream;

  constructor(onEnd: () => void) {
    this.#onEnd = onEnd;
    this.stream = {
      next: () => this.#next(),
      return: () => {
        this.#end();
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  push(change: TaskChange): void {
    if (this.#done || this.#error !== undefined) return;
    if (this.#waiting) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ done: false, value: change });
    } else if (this.#queue.length >= MAX_QUEUED) {
      this.fail(new ServiceUnavailable('This subscription fell behind; subscribe again and refetch.', 1));
    } else {
      this.#queue.push(change);
    }
  }

  /** Drops what is queued (a gap follows anyway) and fails the next read with `error`. */
  fail(error: Error): void {
    if (this.#done || this.#error !== undefined) return;
    this.#queue.length = 0;
    if (this.#waiting) {
      const { reject } = this.#waiting;
      this.#waiting = undefined;
      this.#end();
      reject(error);
    } else {
      this.#error = error;
      this.#onEnd();
    }
  }

  #next(): Promise<IteratorResult<TaskChange>> {
    const change = this.#queue.shift();
    if (change) return Promise.resolve({ done: false, value: change });
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      this.#end();
      return Promise.reject(error);
    }
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  #end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#queue.length = 0;
    this.#onEnd();
    if (this.#waiting) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ done: true, value: undefined });
    }
  }
}
