import { sql, type Compilable, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { prepareStatement } from '../db/connection.ts';
import { databaseError } from '../db/errors.ts';
import type { CursorPosition } from './task.cursor.ts';
import type { TaskTables } from './task.entity.ts';
import type { TaskFilterValues, TaskOrder, TaskRecord } from './task.model.ts';

type Db = Kysely<TaskTables>;
type Eb = ExpressionBuilder<TaskTables, 'task'>;

// Timestamps leave PostgreSQL as the ISO strings clients receive (UTC, milliseconds, as stored):
// parsing them into Dates only to print them again cost about a tenth of a request's CPU.
const iso = (column: 'due_at' | 'created_at' | 'updated_at') =>
  sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The columns of a TaskRecord, only those, under their record names. */
const columns = (eb: Eb) => [
  'id' as const,
  eb.ref('owner_id').as('ownerId'),
  'title' as const,
  'description' as const,
  'completed' as const,
  'priority' as const,
  iso('due_at').as('dueAt'),
  iso('created_at').as('createdAt'),
  iso('updated_at').as('updatedAt'),
  'version' as const,
];

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Conditions shared by a page and its count. The owner always comes first: no query without it. */
function scoped(eb: Eb, ownerId: string, filter: TaskFilterValues): Expression<SqlBool>[] {
  const where: Expression<SqlBool>[] = [eb('owner_id', '=', ownerId)];
  if (filter.completed !== undefined) where.push(eb('completed', '=', filter.completed));
  if (filter.priority !== undefined) where.push(eb('priority', '=', filter.priority));
  if (filter.search !== undefined && filter.search !== '') {
    const pattern = `%${escapeLike(filter.search)}%`;
    where.push(eb.or([eb('title', 'ilike', pattern), eb('description', 'ilike', pattern)]));
  }
  if (filter.dueBefore !== undefined) where.push(eb('due_at', '<', filter.dueBefore));
  if (filter.dueAfter !== undefined) where.push(eb('due_at', '>', filter.dueAfter));
  return where;
}

const tuple = (...values: unknown[]) => sql`(${sql.join(values)})`;

/** Keyset condition: rows strictly after `position` in its order (ties broken by id). */
function after(eb: Eb, position: CursorPosition): Expression<SqlBool> {
  switch (position.order) {
    case 'CREATED_AT_DESC':
      return sql<SqlBool>`(created_at, id) < ${tuple(position.createdAt, position.id)}`;
    case 'CREATED_AT_ASC':
      return sql<SqlBool>`(created_at, id) > ${tuple(position.createdAt, position.id)}`;
    case 'DUE_AT_ASC':
      return position.dueAt === null
        ? eb.and([eb('due_at', 'is', null), eb('id', '>', position.id)])
        : sql<SqlBool>`((due_at, id) > ${tuple(position.dueAt, position.id)} or due_at is null)`;
    case 'PRIORITY_DESC':
      return sql<SqlBool>`(priority, created_at, id) < ${tuple(position.priority, position.createdAt, position.id)}`;
  }
}

const ORDER_BY: Record<TaskOrder, ReturnType<typeof sql.raw>> = {
  CREATED_AT_DESC: sql.raw('created_at desc, id desc'),
  CREATED_AT_ASC: sql.raw('created_at asc, id asc'),
  DUE_AT_ASC: sql.raw('due_at asc nulls last, id asc'),
  PRIORITY_DESC: sql.raw('priority desc, created_at desc, id desc'),
};

/**
 * Runs a query as a named prepared statement (see prepareStatement): its text is one of a small,
 * fixed set (one per combination of order, filters and cursor), so the statement cache stays bounded.
 */
async function run<R>(db: Db, query: Compilable<R>): Promise<R[]> {
  const compiled = query.compile();
  prepareStatement(compiled.sql);
  return (await db.executeQuery(compiled)).rows;
}

/** Database outages become ServiceUnavailable; everything else (bugs) goes on as it is. */
async function guarded<R>(work: Promise<R>): Promise<R> {
  try {
    return await work;
  } catch (err) {
    throw databaseError(err);
  }
}

export interface NewTask {
  title: string;
  description: string | null;
  priority: number;
  dueAt: Date | null;
}
export type TaskChanges = Partial<NewTask & { completed: boolean }>;

/** What the owner has under an id, told without loading the task: nothing, someone else's, or theirs (at a version). */
export type TaskPresence = { kind: 'none' } | { kind: 'foreign' } | { kind: 'own'; version: number };

/**
 * Every query of the task table, through MikroORM's Kysely (the ORM's one pool). Every write is one
 * statement with the owner in its WHERE and the row back through RETURNING: no read before a write,
 * no transaction. Every method takes the owner: there is no unscoped read of a task.
 */
export class TaskRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async findOwned(ownerId: string, id: string): Promise<TaskRecord | undefined> {
    return guarded(run(this.#db, this.#db.selectFrom('task').select(columns).where('id', '=', id).where('owner_id', '=', ownerId)).then(([row]) => row));
  }

  /**
   * Whether the owner has a task with this id and at which version, or whether it is someone
   * else's. Tells a missing task from another user's and nothing more about the latter.
   */
  async presence(ownerId: string, id: string): Promise<TaskPresence> {
    const [row] = await guarded(
      run(
        this.#db,
        this.#db
          .selectFrom('task')
          .select((eb) => [eb('owner_id', '=', ownerId).as('own'), sql<number | null>`case when owner_id = ${ownerId} then version end`.as('version')])
          .where('id', '=', id),
      ),
    );
    if (!row) return { kind: 'none' };
    return row.own && row.version !== null ? { kind: 'own', version: row.version } : { kind: 'foreign' };
  }

  /** Up to `limit` of the owner's tasks matching `filter`, in `order`, after `position`. */
  async page(ownerId: string, filter: TaskFilterValues, order: TaskOrder, limit: number, position?: CursorPosition): Promise<TaskRecord[]> {
    const query = this.#db
      .selectFrom('task')
      .select(columns)
      .where((eb) => eb.and(position ? [...scoped(eb, ownerId, filter), after(eb, position)] : scoped(eb, ownerId, filter)))
      .orderBy(ORDER_BY[order])
      .limit(limit);
    return guarded(run(this.#db, query));
  }

  async count(ownerId: string, filter: TaskFilterValues): Promise<number> {
    const query = this.#db
      .selectFrom('task')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where((eb) => eb.and(scoped(eb, ownerId, filter)));
    const [row] = await guarded(run(this.#db, query));
    // count(*) is a bigint, which pg returns as a string.
    return Number(row?.count ?? 0);
  }

  /** Inserts the task; undefined when the owner no longer exists (foreign key to Better Auth's "user"). */
  async create(ownerId: string, task: NewTask): Promise<TaskRecord | undefined> {
    const query = this.#db
      .insertInto('task')
      .values({
        // UUIDv7: time-ordered, so new rows append to the primary-key index.
        id: uuidv7(),
        owner_id: ownerId,
        title: task.title,
        description: task.description,
        completed: false,
        priority: task.priority,
        due_at: task.dueAt,
        created_at: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
        version: 1,
      })
      .returning(columns);
    try {
      return (await run(this.#db, query))[0];
    } catch (err) {
      // The owner's account was deleted after the request's token was checked (the foreign key to
      // Better Auth's "user" exists when both share the database).
      if ((err as { code?: unknown }).code === '23503') return undefined;
      throw databaseError(err);
    }
  }

  /**
   * Applies `changes` to the owner's task, at `expectedVersion` when given, in one UPDATE;
   * undefined when no row matched (missing, someone else's, or another version).
   */
  async update(ownerId: string, id: string, changes: TaskChanges, expectedVersion?: number): Promise<TaskRecord | undefined> {
    const set = {
      ...(changes.title !== undefined ? { title: changes.title } : {}),
      ...(changes.description !== undefined ? { description: changes.description } : {}),
      ...(changes.completed !== undefined ? { completed: changes.completed } : {}),
      ...(changes.priority !== undefined ? { priority: changes.priority } : {}),
      ...(changes.dueAt !== undefined ? { due_at: changes.dueAt } : {}),
    };
    // Nothing to change: nothing is written and the version stays; the task is read as it is.
    if (Object.keys(set).length === 0) {
      const task = await this.findOwned(ownerId, id);
      return task && (expectedVersion === undefined || task.version === expectedVersion) ? task : undefined;
    }
    let query = this.#db
      .updateTable('task')
      // Concurrent updates of one row wait for each other's row lock, and PostgreSQL re-checks the
      // WHERE (the version) against the row the previous writer left: one of them wins.
      .set((eb) => ({ ...set, updated_at: sql<Date>`now()`, version: eb('version', '+', 1) }))
      .where('id', '=', id)
      .where('owner_id', '=', ownerId);
    if (expectedVersion !== undefined) query = query.where('version', '=', expectedVersion);
    return guarded(run(this.#db, query.returning(columns)).then(([row]) => row));
  }

  /** Deletes the owner's task (at `expectedVersion` when given); false when no row matched. */
  async delete(ownerId: string, id: string, expectedVersion?: number): Promise<boolean> {
    let query = this.#db.deleteFrom('task').where('id', '=', id).where('owner_id', '=', ownerId);
    if (expectedVersion !== undefined) query = query.where('version', '=', expectedVersion);
    const rows = await guarded(run(this.#db, query.returning('id')));
    return rows.length > 0;
  }
}
