import { CompiledQuery, type Kysely } from 'kysely';
import { prepareStatement } from '../db/connection.ts';
import { databaseError } from '../db/errors.ts';
import { fromSnapshot, progress, type FeedPosition } from './task.feed-position.ts';
import { priorityName, type TaskRecord } from './task.model.ts';

export type TaskChangeKind = 'CREATED' | 'UPDATED' | 'DELETED';

/** One row of the change log, with the task as it is at the read (null when gone, and for DELETED). */
export interface ChangeRow {
  xid: number;
  id: number;
  ownerId: string;
  taskId: string;
  kind: TaskChangeKind;
  /** The version the change produced (CREATED, UPDATED) or deleted (DELETED). */
  version: number;
  task: TaskRecord | null;
}

/** What a read returned: the rows a position lacked, in (xid, id) order, and the snapshot it saw. */
export interface ChangeRead {
  snapshot: FeedPosition;
  /** Rows of transactions below this may have been pruned (task_change_pruned). */
  prunedBelow: number;
  rows: ChangeRow[];
  /** The read stopped at its limit: `next` is the first row it left out. */
  next: ChangeRow | undefined;
}

const TASK_COLUMNS = `
  t.id is not null as "present", t.title, t.description, t.completed, t.priority,
  to_char(t.due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "dueAt",
  to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "createdAt",
  to_char(t.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "updatedAt",
  t.version as "taskVersion"`;

const SNAPSHOT = `select pg_current_snapshot()::text as "snapshot", floor(extract(epoch from now()))::float8 as "at"`;

/**
 * The changes a position lacks, read with the statement's own snapshot (returned with them, in the
 * same statement: exactly the rows that snapshot sees). Two index scans instead of "xid >= xmin":
 * what a position lacks is every transaction from xmax on, and those it lists as in progress; a
 * transaction left open for an hour (an operator's psql) would otherwise make every read scan all
 * changes since it began. Each branch is limited on its own, so a huge transaction is read in pages.
 * Without an owner: every owner's changes (an instance's poll); with one: that owner's (a catch-up).
 */
function readSql(byOwner: boolean): string {
  // Parameters: xmax, the listed transactions, how much of each was delivered, the limit; the owner.
  const owner = byOwner ? `owner_id = $5 and` : '';
  return `
    select s."snapshot", s."at", s."prunedBelow", r.*
    from (${SNAPSHOT}, (select below::text from task_change_pruned) as "prunedBelow") s
    left join lateral (
      select c.xid::text as "xid", c.id::text as "id", c.owner_id as "ownerId", c.task_id as "taskId", c.kind::text as "kind",
        c.version, ${TASK_COLUMNS}
      from (
        (select * from task_change where ${owner} xid >= $1::xid8 order by xid, id limit $4)
        union all
        (select c.* from unnest($2::xid8[], $3::int8[]) as p(x, done)
          cross join lateral (select * from task_change where ${owner} xid = p.x and id > p.done order by id limit $4) c)
      ) c
      left join task t on t.id = c.task_id and t.owner_id = c.owner_id and c.kind <> 'DELETED'
      order by c.xid, c.id
      limit $4
    ) r on true`;
}
const READ_ALL = readSql(false);
const READ_OWNER = readSql(true);

interface ReadRow {
  snapshot: string;
  at: number;
  prunedBelow: string;
  xid: string | null;
  id: string;
  ownerId: string;
  taskId: string;
  kind: TaskChangeKind;
  version: number;
  present: boolean;
  title: string;
  description: string | null;
  completed: boolean;
  priority: number;
  dueAt: string | null;
  createdAt: string;
  updatedAt: string;
  taskVersion: number;
}

const SAMPLE = `insert into task_change_horizon (sampled_at, running_from) values (now(), pg_snapshot_xmin(pg_current_snapshot())) on conflict do nothing`;
const ADVANCE = `
  with h as (select max(running_from) as h from task_change_horizon where sampled_at <= now() - make_interval(secs => $1))
  update task_change_pruned p set below = greatest(p.below, h.h) from h where h.h is not null
  returning p.below::text as "below"`;
const PRUNED = `select below::text as "below" from task_change_pruned`;
// SKIP LOCKED: instances pruning at the same time take different rows instead of queueing.
const DELETE_BATCH = `
  delete from task_change where ctid = any(array(
    select ctid from task_change where xid < $1::xid8 order by xid, id limit $2 for update skip locked))`;
const FORGET_SAMPLES = `
  delete from task_change_horizon
  where sampled_at < (select max(sampled_at) from task_change_horizon where sampled_at <= now() - make_interval(secs => $1))`;
for (const text of [SNAPSHOT, READ_ALL, READ_OWNER]) prepareStatement(text);

/** Database outages become ServiceUnavailable; everything else (bugs) goes on as it is. */
async function guarded<R>(work: Promise<R>): Promise<R> {
  try {
    return await work;
  } catch (err) {
    throw databaseError(err);
  }
}

/**
 * The queries of the task change log (see the task_change_log migration): reading what a position
 * lacks, the current snapshot, and pruning. Reads are by owner, or of every owner for an
 * instance's poll, which serves only the owners subscribed there.
 */
export class TaskChangeLog {
  readonly #db: Pick<Kysely<object>, 'executeQuery'>;

  constructor(db: Pick<Kysely<object>, 'executeQuery'>) {
    this.#db = db;
  }

  async #query<R>(text: string, parameters: unknown[]): Promise<R[]> {
    return (await guarded(this.#db.executeQuery<R>(CompiledQuery.raw(text, parameters)))).rows;
  }

  /** The present: the snapshot of a statement run now. */
  async snapshot(): Promise<FeedPosition> {
    const [row] = await this.#query<{ snapshot: string; at: number }>(SNAPSHOT, []);
    if (!row) throw new Error('no snapshot');
    return fromSnapshot(row.snapshot, row.at);
  }

  /**
   * Up to `limit` of the changes `from` lacks, of `ownerId`'s tasks or (undefined) of everyone's,
   * in (xid, id) order, each with its task as it is now.
   */
  async read(from: FeedPosition, ownerId: string | undefined, limit: number): Promise<ChangeRead> {
    const xids: number[] = [];
    const done: number[] = [];
    for (const x of from.xip) {
      xids.push(x);
      const progressed = progress(from, x);
      done.push(progressed === true ? 0 : progressed);
    }
    const parameters: unknown[] = [from.xmax, xids, done, limit + 1];
    if (ownerId !== undefined) parameters.push(ownerId);
    const rows = await this.#query<ReadRow>(ownerId === undefined ? READ_ALL : READ_OWNER, parameters);
    const first = rows[0];
    if (!first) throw new Error('a change-log read returned no row');
    const changes: ChangeRow[] = [];
    for (const row of rows) {
      if (row.xid === null) break; // the left join's one row when nothing is new
      changes.push({
        xid: Number(row.xid),
        id: Number(row.id),
        ownerId: row.ownerId,
        taskId: row.taskId,
        kind: row.kind,
        version: row.version,
        task: row.present
          ? {
              id: row.taskId,
              ownerId: row.ownerId,
              title: row.title,
              description: row.description,
              completed: row.completed,
              priority: priorityName(row.priority),
              dueAt: row.dueAt,
              createdAt: row.createdAt,
              updatedAt: row.updatedAt,
              version: row.taskVersion,
            }
          : null,
      });
    }
    const next = changes.length > limit ? changes.pop() : undefined;
    return { snapshot: fromSnapshot(first.snapshot, first.at), prunedBelow: Number(first.prunedBelow), rows: changes, next };
  }

  /** The boundary below which changes may have been pruned. */
  async prunedBelow(): Promise<number> {
    const [row] = await this.#query<{ below: string }>(PRUNED, []);
    return Number(row?.below ?? 0);
  }

  /**
   * One pruning pass: records where the oldest running transaction is now, moves the pruned
   * boundary to where it was `keepSeconds` ago (every transaction below it had ended by then),
   * and deletes rows below it in batches of `batch`, each its own short statement (inserts never
   * wait for them), for at most `budgetMs`. Returns the rows deleted.
   */
  async prune(keepSeconds: number, batch: number, budgetMs: number): Promise<number> {
    await this.#query(SAMPLE, []);
    const [advanced] = await this.#query<{ below: string }>(ADVANCE, [keepSeconds]);
    const below = advanced?.below ?? (await this.#query<{ below: string }>(PRUNED, []))[0]?.below ?? '0';
    const deadline = Date.now() + budgetMs;
    let deleted = 0;
    for (;;) {
      const result = await guarded(this.#db.executeQuery(CompiledQuery.raw(DELETE_BATCH, [below, batch])));
      const n = Number(result.numAffectedRows ?? 0);
      deleted += n;
      if (n < batch || Date.now() >= deadline) break;
    }
    await this.#query(FORGET_SAMPLES, [keepSeconds]);
    return deleted;
  }
}
