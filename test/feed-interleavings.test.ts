import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ChangeRead, ChangeRow, TaskChangeLog } from '../src/tasks/task.change-log.ts';
import { decodeCursor, delivered, ownerTag } from '../src/tasks/task.feed-position.ts';
import { TaskFeed, type TaskEventRecord, type TaskEventStream } from '../src/tasks/task.feed.ts';
import { Cluster, random, type Row } from './support/snapshot-model.ts';

/**
 * TaskFeed's bookkeeping (the shared head, subscribers away from it, catch-up reads, slow clients,
 * pages) under every interleaving timers give it: the feed runs against a model of the change log
 * whose snapshots follow PostgreSQL's rules (test/support/snapshot-model.ts, shared with test/feed-position.test.ts), and
 * every query takes a random while, so that polls, catch-up reads and the snapshots of new
 * subscriptions finish in any order. Writers begin, write, commit and roll back at random;
 * subscriptions start at random moments, some read slowly, some end and resume from the cursor of
 * the last event they got. Whatever happens, each must get every change committed after it
 * started, once, nothing committed before, and cursors that hold exactly what came before them.
 * (test/feed.test.ts and test/feed-start.test.ts check the same against PostgreSQL itself.)
 */

async function run(seed: number): Promise<{ problems: string[]; rows: number; events: number }> {
  const rnd = random(seed);
  const pause = (maxMs: number) => new Promise<void>((r) => (rnd() < 0.3 ? setImmediate(r) : setTimeout(r, Math.floor(rnd() * maxMs))));
  const db = new Cluster();
  const change = (r: Row): ChangeRow => ({ xid: r.xid, id: r.id, ownerId: r.owner, taskId: `t${r.id}`, kind: 'CREATED', version: 1, task: null });
  // Each query sees the log at one moment (its snapshot), somewhere between being sent and answering.
  const log: Pick<TaskChangeLog, 'snapshot' | 'read' | 'prune'> = {
    async snapshot() {
      await pause(4);
      const s = db.snapshot(Math.floor(Date.now() / 1000));
      await pause(4);
      return s;
    },
    async read(from, owner, limit): Promise<ChangeRead> {
      await pause(4);
      const s = db.snapshot(Math.floor(Date.now() / 1000));
      const { rows, next } = db.read(from, s, owner, limit);
      await pause(4);
      return { snapshot: s, prunedBelow: 0, rows: rows.map(change), next: next && change(next) };
    },
    prune: () => Promise.resolve(0),
  };
  const feed = new TaskFeed({ log: log as TaskChangeLog, logger: pino({ level: 'silent' }), pollIntervalMs: 2, retentionSeconds: 86_400 });
  const owners = ['alice', 'bob'];
  const problems: string[] = [];
  let writing = true;
  let events = 0;
  // The run is counted in writers' steps, not in time: a busy machine makes it slower, not shorter.
  // (It ran for 400 ms, and under two CI runs at once its writers managed 42 rows.)
  const STEPS = 200;
  let steps = 0;

  async function writer(): Promise<void> {
    const open: number[] = [];
    for (let step = 0; step < STEPS; step++, steps++) {
      const action = rnd();
      if (action < 0.25 || open.length === 0) open.push(db.begin());
      else if (action < 0.6) {
        const xid = open[Math.floor(rnd() * open.length)]!;
        const owner = owners[Math.floor(rnd() * owners.length)]!;
        // Now and then a transaction larger than a page, and than a subscriber's queue.
        for (let n = rnd() < 0.02 ? 250 : 1; n > 0; n--) db.write(xid, owner);
      } else db.end(open.splice(Math.floor(rnd() * open.length), 1)[0]!, rnd() < 0.9);
      await pause(3);
    }
    for (const xid of open) db.end(xid, true);
  }

  async function subscriber(n: number, owner: string): Promise<void> {
    // Starts at a random point of the writing, whatever the machine's speed.
    const startAt = Math.floor(rnd() * STEPS * 3 * 0.85);
    while (steps < startAt) await pause(3);
    const before = new Set(db.committed);
    let stream: TaskEventStream = await feed.subscribe(owner);
    const started = new Set(db.committed);
    const slow = n % 3 === 0;
    const got: Array<{ row: Row; cursor: string }> = [];
    const missing = () => {
      const have = new Set(got.map((g) => g.row.id));
      return db.rows.filter((r) => r.owner === owner && db.committed.has(r.xid) && !started.has(r.xid) && !have.has(r.id));
    };
    let pending: Promise<IteratorResult<TaskEventRecord>> | undefined;
    let resumes = 0;
    let idle = 0;
    for (;;) {
      pending ??= stream.next();
      const step = await Promise.race([pending, new Promise<'idle'>((r) => setTimeout(() => r('idle'), 100))]);
      if (step === 'idle') {
        // Done once the writers are and nothing is missing (or nothing came for 20 s).
        if (!writing && (missing().length === 0 || ++idle > 200)) break;
        continue;
      }
      pending = undefined;
      if (step.done) break;
      if (slow && rnd() < 0.05) await pause(30);
      const row = db.rows.find((r) => `t${r.id}` === step.value.taskId)!;
      got.push({ row, cursor: step.value.cursor });
      if (writing && resumes < 3 && rnd() < 0.05) {
        await stream.return();
        await pause(10);
        resumes++;
        stream = await feed.subscribe(owner, step.value.cursor);
      }
    }
    await stream.return();
    events += got.length;
    const ids = got.map((g) => g.row.id);
    if (new Set(ids).size !== ids.length) problems.push(`subscriber ${n}: a change twice`);
    for (const g of got) if (before.has(g.row.xid)) problems.push(`subscriber ${n}: transaction ${g.row.xid}, committed before it subscribed`);
    for (const r of missing()) problems.push(`subscriber ${n}: missed change ${r.id} of transaction ${r.xid}`);
    const tag = ownerTag(owner);
    got.forEach((g, i) => {
      const decoded = decodeCursor(g.cursor, tag);
      if (!decoded.ok) return problems.push(`subscriber ${n}: cursor ${i} does not decode`);
      got.forEach((other, j) => {
        if (delivered(decoded.position, other.row.xid, other.row.id) !== j <= i)
          problems.push(`subscriber ${n}: cursor ${i} is wrong about event ${j}`);
      });
    });
  }

  const subscribers = Array.from({ length: 30 }, (_, n) => subscriber(n, owners[n % 2]!));
  await Promise.all([writer(), writer(), writer()]);
  writing = false;
  await Promise.all(subscribers);
  await feed.stop();
  return { problems: [...new Set(problems)], rows: db.rows.length, events };
}

describe('TaskFeed under random interleavings', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`gives each subscription exactly what was committed after it started, with exact cursors (seed ${seed})`, async () => {
      const { problems, rows, events } = await run(seed);
      expect(problems.slice(0, 10)).toEqual([]);
      // The run did something: changes were written and delivered.
      expect(rows).toBeGreaterThan(50);
      expect(events).toBeGreaterThan(50);
    });
  }
});
