import { delivered, fromSnapshot, type FeedPosition } from '../../src/tasks/task.feed-position.ts';

/**
 * A model of PostgreSQL's transactions and snapshots for the change log's tests
 * (test/feed-position.test.ts, test/feed-interleavings.test.ts): transactions begin, write rows,
 * commit or roll back in any order, and a snapshot sees what PostgreSQL's would.
 */

export interface Row {
  xid: number;
  id: number;
  owner: string;
}

/** A tiny deterministic PRNG, so that a failure can be replayed from its seed. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Cluster {
  nextXid = 3;
  nextId = 1;
  latestCompleted = 2;
  readonly running = new Set<number>();
  readonly committed = new Set<number>();
  readonly rows: Row[] = [];
  time = 1_000;

  begin(): number {
    const xid = this.nextXid++;
    this.running.add(xid);
    return xid;
  }
  write(xid: number, owner: string): void {
    this.rows.push({ xid, id: this.nextId++, owner });
  }
  end(xid: number, commit: boolean): void {
    this.running.delete(xid);
    this.latestCompleted = Math.max(this.latestCompleted, xid);
    if (commit) this.committed.add(xid);
  }
  /**
   * As PostgreSQL takes one (pg_current_snapshot()): xmax is the latest completed transaction + 1,
   * running ones below it are listed. `at` is its time in seconds (a counter unless given).
   */
  snapshot(at = this.time++): FeedPosition {
    const xmax = this.latestCompleted + 1;
    const xip = [...this.running].filter((x) => x < xmax).sort((a, b) => a - b);
    return fromSnapshot(`${xip[0] ?? xmax}:${xmax}:${xip.join(',')}`, at);
  }
  visible(s: FeedPosition, r: Row): boolean {
    return this.committed.has(r.xid) && r.xid < s.xmax && !s.xip.includes(r.xid);
  }
  /** Rows visible in `s` that `from` lacks, of `owner` (or everyone's), in (xid, id) order, limited like task_change reads. */
  read(from: FeedPosition, s: FeedPosition, owner: string | undefined, limit: number): { rows: Row[]; next: Row | undefined } {
    const visible = this.rows.filter((r) => this.visible(s, r) && (owner === undefined || r.owner === owner) && !delivered(from, r.xid, r.id));
    visible.sort((a, b) => a.xid - b.xid || a.id - b.id);
    return { rows: visible.slice(0, limit), next: visible[limit] };
  }
}
