import { describe, expect, it } from '@jest/globals';
import {
  contains,
  decodeCursor,
  delivered,
  encodeCursor,
  fromSnapshot,
  mix,
  ownerTag,
  union,
  type FeedPosition,
} from '../src/tasks/task.feed-position.ts';
import { Cluster, random, type Row } from './support/snapshot-model.ts';

/**
 * The position algebra behind resumable live updates, against a model of PostgreSQL's snapshots:
 * transactions that start, write, commit or roll back in random orders, snapshots taken in
 * between, and a reader that reads what its position lacks, stops part-way, disconnects and
 * resumes from the position of the last event it got. Whatever happens, it must be given every
 * committed change exactly once (and nothing rolled back).
 */

/** TaskFeed's rule: where a reader at `p` stands after `last` of a read with snapshot `s`, nothing from `next` on. */
function positionAfter(p: FeedPosition, s: FeedPosition, last: Row | undefined, next: Row | undefined): FeedPosition {
  if (!next) return union(p, s);
  if (last?.xid === next.xid) return mix(p, s, last.xid, last.id);
  return mix(p, s, next.xid);
}

const tag = ownerTag('alice');
const roundTrip = (p: FeedPosition) => {
  const decoded = decodeCursor(encodeCursor(p, tag), tag);
  if (!decoded.ok) throw new Error(`cursor of ${JSON.stringify(p)} did not decode`);
  return decoded.position;
};

function simulate(seed: number): void {
  const rnd = random(seed);
  const db = new Cluster();
  const owners = ['alice', 'bob'];
  const open: number[] = [];
  // The head (the instance's poll over every owner) and one subscriber of alice, who drops off
  // at random and resumes from the position of the last event she got.
  let head = db.snapshot();
  let mine: FeedPosition | undefined; // undefined: at the head
  const got: Row[] = [];
  for (let step = 0; step < 400; step++) {
    const action = rnd();
    if (action < 0.25 || open.length === 0) open.push(db.begin());
    else if (action < 0.6) {
      const xid = open[Math.floor(rnd() * open.length)]!;
      db.write(xid, owners[Math.floor(rnd() * owners.length)]!);
    } else if (action < 0.8) {
      const i = Math.floor(rnd() * open.length);
      db.end(open.splice(i, 1)[0]!, rnd() < 0.85);
    } else if (action < 0.9 || mine === undefined) {
      // A poll: read everyone's changes from the head; alice takes hers if she is at the head, or
      // away but holding all of it (as TaskFeed does), and may drop off part-way.
      const s = db.snapshot();
      const { rows, next } = db.read(head, s, undefined, 1 + Math.floor(rnd() * 6));
      const from = mine ?? head;
      if (mine === undefined || contains(mine, head)) {
        const hers = rows.filter((r) => r.owner === 'alice' && !delivered(from, r.xid, r.id));
        const stopAt = rnd() < 0.2 ? Math.floor(rnd() * (hers.length + 1)) : hers.length;
        for (let i = 0; i < stopAt; i++) got.push(hers[i]!);
        if (stopAt < hers.length) mine = roundTrip(stopAt === 0 ? from : positionAfter(from, s, hers[stopAt - 1], hers[stopAt] ?? next));
        else if (mine !== undefined) mine = roundTrip(positionAfter(mine, s, rows.at(-1), next));
      }
      head = positionAfter(head, s, rows.at(-1), next);
      if (mine !== undefined && contains(mine, head) && contains(head, mine)) mine = undefined;
    } else {
      // Away: catch up from her own position, one page; rejoin the head once she holds it.
      const s = db.snapshot();
      const { rows, next } = db.read(mine, s, 'alice', 1 + Math.floor(rnd() * 4));
      const stopAt = rnd() < 0.3 ? Math.floor(rnd() * (rows.length + 1)) : rows.length;
      for (let i = 0; i < stopAt; i++) got.push(rows[i]!);
      mine = roundTrip(stopAt === 0 ? mine : positionAfter(mine, s, rows[stopAt - 1], rows[stopAt] ?? next));
      if (contains(mine, head) && contains(head, mine)) mine = undefined;
    }
  }
  // Everyone ends; alice reads until nothing is left.
  for (const xid of open) db.end(xid, true);
  for (let guard = 0; guard < 10_000; guard++) {
    const s = db.snapshot();
    const from = mine ?? head;
    const { rows, next } = db.read(from, s, 'alice', 5);
    got.push(...rows);
    mine = positionAfter(from, s, rows.at(-1), next);
    if (!next) break;
  }
  const expected = db.rows.filter((r) => r.owner === 'alice' && db.committed.has(r.xid)).map((r) => r.id);
  expect(got.map((r) => r.id).sort((a, b) => a - b)).toEqual(expected);
  // Within one transaction, in the order written.
  for (let i = 1; i < got.length; i++) if (got[i]!.xid === got[i - 1]!.xid) expect(got[i]!.id).toBeGreaterThan(got[i - 1]!.id);
}

describe('feed positions', () => {
  it('deliver every committed change exactly once, whatever the order of commits, pages and reconnects', () => {
    for (let seed = 1; seed <= 400; seed++) {
      try {
        simulate(seed);
      } catch (err) {
        throw new Error(`seed ${seed}: ${(err as Error).message}`);
      }
    }
  });

  it('deliver a transaction that began before a position and committed after it (T1 open, T2 commits, T1 commits)', () => {
    const db = new Cluster();
    const start = db.snapshot();
    const t1 = db.begin();
    const t2 = db.begin();
    db.write(t1, 'alice');
    db.write(t2, 'alice');
    db.end(t2, true);
    const s1 = db.snapshot();
    const first = db.read(start, s1, 'alice', 10);
    expect(first.rows.map((r) => r.xid)).toEqual([t2]);
    const afterT2 = roundTrip(positionAfter(start, s1, first.rows.at(-1), first.next));
    expect(afterT2.xip).toContain(t1);
    db.end(t1, true);
    const second = db.read(afterT2, db.snapshot(), 'alice', 10);
    expect(second.rows.map((r) => r.xid)).toEqual([t1]);
  });

  it('encode compactly and refuse what is not a cursor, or another owner’s', () => {
    const p = fromSnapshot('1000:1010:1000,1003,1007', 1_800_000_000);
    const cursor = encodeCursor(p, tag);
    expect(cursor.length).toBeLessThan(40);
    expect(decodeCursor(cursor, tag)).toEqual({ ok: true, position: p });
    expect(decodeCursor(cursor, ownerTag('bob'))).toEqual({ ok: false, problem: 'foreign' });
    for (const bad of ['', 'x', '!!!!', cursor.slice(0, -2), `${cursor}AA`, 'A'.repeat(9000)]) {
      expect(decodeCursor(bad, tag)).toEqual({ ok: false, problem: 'malformed' });
    }
  });
});
