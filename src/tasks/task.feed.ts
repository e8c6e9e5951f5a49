import { performance } from 'node:perf_hooks';
import { BadInput, CursorExpired, ServiceUnavailable } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ChangeRead, ChangeRow, TaskChangeKind, TaskChangeLog } from './task.change-log.ts';
import { contains, decodeCursor, encodeCursor, mix, oldestNeeded, delivered, ownerTag, union, type FeedPosition } from './task.feed-position.ts';
import type { TaskRecord } from './task.model.ts';

/** A change as a subscriber receives it. */
export interface TaskEventRecord {
  kind: TaskChangeKind;
  taskId: string;
  /** The version the change produced (CREATED, UPDATED) or deleted (DELETED). */
  version: number;
  /** The task as it is now; null for DELETED and when the task is gone since. */
  task: TaskRecord | null;
  /** Where a subscription resumes to get every change after this one (encoded when first read). */
  readonly cursor: string;
  /** `performance.now()` when this instance read the change from the log: its delivery is timed from there (metrics). */
  readonly receivedAt: number;
}

export type TaskEventStream = AsyncIterableIterator<TaskEventRecord> & { return(): Promise<IteratorResult<TaskEventRecord>> };

export interface TaskFeedOptions {
  log: TaskChangeLog;
  logger: Logger;
  /** How often the instance reads the log for its subscribers (TASK_EVENTS_POLL_INTERVAL_MS). */
  pollIntervalMs: number;
  /** How long changes are kept, and cursors accepted (TASK_EVENTS_RETENTION_SECONDS). */
  retentionSeconds: number;
  /**
   * Why new subscriptions are refused now (the instance does not hear user events), or undefined
   * while they are taken.
   */
  unavailable?: () => ServiceUnavailable | undefined;
}

/** Rows one poll reads at most; past that it reads again at once. */
const POLL_LIMIT = 1_000;
/** Rows one catch-up read gives a subscriber at most. */
const CATCH_UP_LIMIT = 200;
/** Catch-up reads in flight at once, per poll. */
const CATCH_UP_CONCURRENCY = 4;
/** Events a subscriber may have waiting; past that it is read for again once its client has caught up. */
const MAX_QUEUED = 200;
/** A subscriber is read for again when this few of its events are still waiting. */
const LOW_WATER = 20;
/** Polls failing for this long end every subscription (clients resume with their cursors). */
const MAX_FAILING_MS = 10_000;
/** Slack on top of the retention before pruning: positions are stamped with the database's clock, cursors checked with ours. */
const PRUNE_MARGIN_SECONDS = 60;
const PRUNE_BATCH = 1_000;
const PRUNE_BUDGET_MS = 2_000;

class FeedEvent implements TaskEventRecord {
  readonly kind: TaskChangeKind;
  readonly taskId: string;
  readonly version: number;
  readonly task: TaskRecord | null;
  /** Where its subscriber is once it has this event (not part of the API: the cursor encodes it). */
  readonly position: FeedPosition;
  readonly receivedAt = performance.now();
  readonly #tag: Buffer;
  #cursor: string | undefined;

  constructor(row: ChangeRow, position: FeedPosition, tag: Buffer) {
    this.kind = row.kind;
    this.taskId = row.taskId;
    this.version = row.version;
    this.task = row.task;
    this.position = position;
    this.#tag = tag;
  }

  get cursor(): string {
    return (this.#cursor ??= encodeCursor(this.position, this.#tag));
  }
}

/**
 * Where a reader at `p` stands after being given, of a read with snapshot `s`, the row `last`
 * (undefined: none of its rows) and nothing from `next` on (undefined: the whole read).
 */
function positionAfter(p: FeedPosition, s: FeedPosition, last: ChangeRow | undefined, next: ChangeRow | undefined): FeedPosition {
  if (!next) return union(p, s);
  if (last?.xid === next.xid) return mix(p, s, last.xid, last.id);
  return mix(p, s, next.xid);
}

/** One owner's subscribers on this instance, and the tag that binds cursors to the owner. */
interface Owner {
  subscribers: Set<Subscriber>;
  tag: Buffer;
}

/**
 * Live task changes, resumable: every subscription has a position in the change log (see
 * task.feed-position.ts) and is given exactly what its position lacks, in the order of the log.
 *
 * One loop per instance reads the log every `pollIntervalMs` while anyone is subscribed: one query
 * for every subscriber at once, from the position they share (the head). Rows go to the
 * subscribers of their owner, one event object per change for all of them. A subscriber away from
 * the head (just resumed from a cursor, or too slow to take more) is read for on its own, between
 * polls, until it has caught up; then it rejoins the head. No notification is sent by writers.
 */
export class TaskFeed {
  readonly #log: TaskChangeLog;
  readonly #logger: Logger;
  readonly #interval: number;
  readonly #retention: number;
  readonly #unavailable: () => ServiceUnavailable | undefined;
  readonly #owners = new Map<string, Owner>();
  /** Subscribers with a position of their own; the others are at the head. */
  readonly #away = new Set<Subscriber>();
  #head: FeedPosition | undefined;
  #count = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #stopped = false;
  #failingSince: number | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #snapshotWaiters: Array<{ resolve: (p: FeedPosition) => void; reject: (e: unknown) => void }> = [];
  #snapshotting = false;

  constructor(options: TaskFeedOptions) {
    this.#log = options.log;
    this.#logger = options.logger;
    this.#interval = options.pollIntervalMs;
    this.#retention = options.retentionSeconds;
    this.#unavailable = options.unavailable ?? (() => undefined);
  }

  /** Open subscriptions, for metrics and tests. */
  get size(): number {
    return this.#count;
  }

  /**
   * The owner's task changes: after the event whose cursor is `after`, or from now on. Rejects
   * with BadInput for a malformed cursor or another owner's, CursorExpired for one older than
   * the retention (or whose changes were pruned), ServiceUnavailable when the database cannot
   * be read or user events cannot be heard.
   */
  async subscribe(ownerId: string, after?: string): Promise<TaskEventStream> {
    if (this.#stopped) throw new ServiceUnavailable('Live updates are unavailable right now; try again shortly.', 1);
    const refusal = this.#unavailable();
    if (refusal) throw refusal;
    const tag = this.#owners.get(ownerId)?.tag ?? ownerTag(ownerId);
    let subscriber: Subscriber;
    if (after === undefined) {
      subscriber = new Subscriber(ownerId, await this.#snapshot(), (s) => this.#remove(s));
    } else {
      const decoded = decodeCursor(after, tag);
      if (!decoded.ok) {
        throw new BadInput('after', decoded.problem === 'foreign' ? 'is not a cursor of your task events' : 'is not a taskEvents cursor');
      }
      const from = decoded.position;
      if (Date.now() / 1000 - from.time > this.#retention) throw new CursorExpired();
      // The first page now, so that a cursor whose changes were pruned is refused before the stream starts.
      const read = await this.#log.read(from, ownerId, CATCH_UP_LIMIT);
      if (oldestNeeded(from) < read.prunedBelow) throw new CursorExpired();
      subscriber = new Subscriber(ownerId, from, (s) => this.#remove(s));
      this.#deliverCatchUp(subscriber, tag, read);
    }
    this.#add(subscriber, tag);
    return subscriber.stream;
  }

  /** The owner's cursor for the present: a subscription after it gets every change committed after this call began. */
  async present(ownerId: string): Promise<string> {
    return encodeCursor(await this.#snapshot(), this.#owners.get(ownerId)?.tag ?? ownerTag(ownerId));
  }

  /** Ends every subscription with ServiceUnavailable (the instance stopped hearing the database). */
  interrupt(message = 'Live updates were interrupted; subscribe again with the cursor of the last event you received.'): void {
    for (const owner of [...this.#owners.values()]) {
      for (const s of [...owner.subscribers]) s.fail(new ServiceUnavailable(message, 1));
    }
  }

  /** Starts pruning the log (every instance does; passes are short and never block writers). */
  startPruning(): void {
    if (this.#pruneTimer || this.#stopped) return;
    const every = Math.min(60_000, Math.max(1_000, (this.#retention * 1000) / 4));
    const keep = this.#retention + Math.min(PRUNE_MARGIN_SECONDS, this.#retention);
    const prune = () => {
      this.#log.prune(keep, PRUNE_BATCH, PRUNE_BUDGET_MS).then(
        (deleted) => {
          if (deleted > 0) this.#logger.debug({ deleted }, 'pruned task changes');
        },
        (err: unknown) => this.#logger.warn({ err }, 'could not prune task changes; trying again later'),
      );
    };
    this.#pruneTimer = setInterval(prune, every);
    this.#pruneTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pruneTimer);
    for (const owner of [...this.#owners.values()]) for (const s of [...owner.subscribers]) s.end();
    this.#wake?.();
    await this.#loop;
  }

  #add(subscriber: Subscriber, tag: Buffer): void {
    let owner = this.#owners.get(subscriber.ownerId);
    if (!owner) this.#owners.set(subscriber.ownerId, (owner = { subscribers: new Set(), tag }));
    owner.subscribers.add(subscriber);
    // A resumed subscriber may already be where the head is (its first read placed it there).
    if (subscriber.position !== undefined) this.#away.add(subscriber);
    this.#count++;
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
      // Nobody left to read for: the next subscriber starts the loop from a fresh snapshot.
      this.#head = undefined;
    });
    this.#wake?.();
  }

  #remove(subscriber: Subscriber): void {
    const owner = this.#owners.get(subscriber.ownerId);
    if (!owner?.subscribers.delete(subscriber)) return;
    this.#count--;
    this.#away.delete(subscriber);
    if (owner.subscribers.size === 0) this.#owners.delete(subscriber.ownerId);
  }

  /** The present for a new subscription: a snapshot taken after it asked (callers arriving together share one). */
  #snapshot(): Promise<FeedPosition> {
    return new Promise((resolve, reject) => {
      this.#snapshotWaiters.push({ resolve, reject });
      this.#takeSnapshot();
    });
  }

  #takeSnapshot(): void {
    if (this.#snapshotting || this.#snapshotWaiters.length === 0) return;
    const waiters = this.#snapshotWaiters.splice(0);
    this.#snapshotting = true;
    this.#log
      .snapshot()
      .then(
        (s) => waiters.forEach((w) => w.resolve(s)),
        (err: unknown) => waiters.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        this.#snapshotting = false;
        this.#takeSnapshot();
      });
  }

  async #run(): Promise<void> {
    while (!this.#stopped && this.#count > 0) {
      const started = Date.now();
      let more = false;
      try {
        more = await this.#poll();
        await this.#catchUp();
        this.#failingSince = undefined;
      } catch (err) {
        const now = Date.now();
        if (this.#failingSince === undefined) {
          this.#failingSince = now;
          this.#logger.warn({ err }, 'could not read task changes; retrying');
        } else if (now - this.#failingSince > MAX_FAILING_MS) {
          this.#failingSince = undefined;
          this.#logger.error({ err }, 'task changes unreadable for too long: ending subscriptions');
          this.interrupt('Live updates are unavailable right now; subscribe again with the cursor of the last event you received.');
        }
      }
      if (more || this.#count === 0) continue;
      const wait = this.#interval - (Date.now() - started);
      if (wait > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          timer.unref();
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  /** One read for every subscriber at the head; returns whether it stopped at its limit. */
  async #poll(): Promise<boolean> {
    const base = this.#head;
    if (!base) {
      this.#head = await this.#log.snapshot();
      this.#settle(undefined, this.#head);
      return false;
    }
    const read = await this.#log.read(base, undefined, POLL_LIMIT);
    if (this.#head !== base) return false; // the loop stopped and started again meanwhile
    const byOwner = new Map<string, ChangeRow[]>();
    for (const row of read.rows) {
      if (!this.#owners.has(row.ownerId)) continue;
      let rows = byOwner.get(row.ownerId);
      if (!rows) byOwner.set(row.ownerId, (rows = []));
      rows.push(row);
    }
    for (const [ownerId, rows] of byOwner) {
      const owner = this.#owners.get(ownerId);
      if (!owner) continue;
      // Events for those at the head: made once, shared by all of them.
      let shared: FeedEvent[] | undefined;
      for (const s of [...owner.subscribers]) {
        if (s.position === undefined) {
          shared ??= this.#events(base, read, rows, owner.tag);
          if (!s.offer(shared, base)) this.#away.add(s);
        } else if (!s.behind && contains(s.position, base)) {
          const from = s.position;
          s.offer(
            this.#events(
              from,
              read,
              rows.filter((r) => !delivered(from, r.xid, r.id)),
              owner.tag,
            ),
            from,
          );
        }
      }
    }
    const head = positionAfter(base, read.snapshot, read.rows.at(-1), read.next);
    this.#head = head;
    this.#settle({ base, read }, head);
    return read.next !== undefined;
  }

  /** Events for a reader at `from` of `rows` (its owner's, in order, none delivered yet), each with its position. */
  #events(from: FeedPosition, read: ChangeRead, rows: ChangeRow[], tag: Buffer): FeedEvent[] {
    return rows.map((row, i) => new FeedEvent(row, positionAfter(from, read.snapshot, row, rows[i + 1] ?? read.next), tag));
  }

  /**
   * After a poll (undefined: the head's first snapshot): those away from the head who held all the
   * poll started from took their part of it (in #poll) and move on; whoever is now where the head
   * is joins it; whoever lacks something the poll started from needs reads of its own.
   */
  #settle(poll: { base: FeedPosition; read: ChangeRead } | undefined, head: FeedPosition): void {
    for (const s of this.#away) {
      const p = s.position;
      if (s.behind || !p) continue;
      if (poll) {
        if (!contains(p, poll.base)) {
          s.behind = true;
          continue;
        }
        s.position = positionAfter(p, poll.read.snapshot, poll.read.rows.at(-1), poll.read.next);
      }
      this.#place(s, head);
    }
  }

  /** A subscriber away from the head, not behind it: joins the head if it is there, or is marked behind if it lacks part of it. */
  #place(s: Subscriber, head: FeedPosition): void {
    const p = s.position;
    if (!p) return;
    if (p !== head && !contains(p, head)) s.behind = true;
    else if (p === head || contains(head, p)) {
      s.position = undefined;
      this.#away.delete(s);
    }
  }

  /** One catch-up read for each subscriber behind the head whose client has room (a few at a time). */
  async #catchUp(): Promise<void> {
    const due = [...this.#away].filter((s) => s.behind && s.room());
    for (let i = 0; i < due.length; i += CATCH_UP_CONCURRENCY) {
      await Promise.all(
        due.slice(i, i + CATCH_UP_CONCURRENCY).map(async (s) => {
          const owner = this.#owners.get(s.ownerId);
          const from = s.position;
          if (!owner || !from) return;
          const read = await this.#log.read(from, s.ownerId, CATCH_UP_LIMIT);
          // Ended, or moved by someone else, while this read ran.
          if (s.position !== from || s.done) return;
          if (oldestNeeded(from) < read.prunedBelow) {
            s.fail(new CursorExpired());
            return;
          }
          this.#deliverCatchUp(s, owner.tag, read);
        }),
      );
    }
  }

  /** Gives a subscriber the rows of a read made from its position alone, and moves it on. */
  #deliverCatchUp(s: Subscriber, tag: Buffer, read: ChangeRead): void {
    const from = s.position;
    if (!from) return;
    // Not all taken: it stays behind, at the last event it took.
    if (!s.offer(this.#events(from, read, read.rows, tag), from)) return;
    s.position = positionAfter(from, read.snapshot, read.rows.at(-1), read.next);
    s.behind = read.next !== undefined;
    if (!s.behind && this.#head) this.#place(s, this.#head);
  }
}

/**
 * One subscription: a queue with a pending read, and a position when it is not at the head.
 * Written by hand, not as an async generator: a generator waiting for its next event cannot be
 * ended by `return()` until that event comes.
 */
class Subscriber {
  readonly ownerId: string;
  /** Undefined while at the feed's head. */
  position: FeedPosition | undefined;
  /** Needs reads of its own before it can take the head's. */
  behind = false;
  done = false;
  readonly #queue: TaskEventRecord[] = [];
  #waiting: { resolve: (r: IteratorResult<TaskEventRecord>) => void; reject: (e: unknown) => void } | undefined;
  #error: Error | undefined;
  readonly #onEnd: (s: Subscriber) => void;
  readonly stream: TaskEventStream;

  constructor(ownerId: string, position: FeedPosition, onEnd: (s: Subscriber) => void) {
    this.ownerId = ownerId;
    this.position = position;
    this.#onEnd = onEnd;
    this.stream = new SubscriberStream(this);
  }

  /** Whether a catch-up read may add events. */
  room(): boolean {
    return this.#queue.length <= LOW_WATER;
  }

  /**
   * Takes `events` (read from `from`, where this subscriber is) in order, as many as fit, and says
   * whether it took them all. If not, it stays at the last one it took and falls behind: the rest
   * are read again once its client has caught up.
   */
  offer(events: FeedEvent[], from: FeedPosition): boolean {
    if (this.done || this.#error !== undefined) return true;
    let taken = 0;
    for (const event of events) {
      if (this.#queue.length >= MAX_QUEUED && !this.#waiting) break;
      this.#push(event);
      taken++;
    }
    if (taken === events.length) return true;
    this.position = events[taken - 1]?.position ?? from;
    this.behind = true;
    return false;
  }

  #push(event: TaskEventRecord): void {
    if (this.#waiting) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ done: false, value: event });
    } else {
      this.#queue.push(event);
    }
  }

  /** Drops what is queued and fails the next read with `error`. */
  fail(error: Error): void {
    if (this.done || this.#error !== undefined) return;
    this.#queue.length = 0;
    if (this.#waiting) {
      const { reject } = this.#waiting;
      this.#waiting = undefined;
      this.end();
      reject(error);
    } else {
      this.#error = error;
      this.#onEnd(this);
    }
  }

  next(): Promise<IteratorResult<TaskEventRecord>> {
    const event = this.#queue.shift();
    if (event) return Promise.resolve({ done: false, value: event });
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      this.end();
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.#queue.length = 0;
    this.#onEnd(this);
    if (this.#waiting) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ done: true, value: undefined });
    }
  }
}

/**
 * What a subscriber hands out: its reads and its end, nothing of its bookkeeping. A class (methods
 * on its prototype), not an object of closures: every open subscription holds one.
 */
class SubscriberStream implements TaskEventStream {
  readonly #subscriber: Subscriber;

  constructor(subscriber: Subscriber) {
    this.#subscriber = subscriber;
  }

  next(): Promise<IteratorResult<TaskEventRecord>> {
    return this.#subscriber.next();
  }

  return(): Promise<IteratorResult<TaskEventRecord>> {
    this.#subscriber.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
