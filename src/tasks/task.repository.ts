import { sql, type Compilable, type CompiledQuery, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
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

// Queries are built with Kysely once per shape, with named slots where the request's values go,
// and then only filled in: building and compiling a query on every request cost more CPU than
// the rest of the data path. A slot is a marker string Kysely passes through as a parameter.
const SLOT = '\u0000slot:';
// Typed `never` so that it fits wherever Kysely expects a value of the column's type.
const slot = (name: string): never => `${SLOT}${name}` as never;

interface Template {
  compiled: CompiledQuery;
  /** For each parameter: the name of its slot, or undefined for a constant of the query. */
  slots: Array<string | undefined>;
}
const templates = new Map<string, Template>();

/**
 * Runs the query of shape `key` (built by `build` the first time) with `values` in its slots, as
 * a named prepared statement (see prepareStatement). Shapes are few and fixed (one per combination
 * of order, filters and cursor; of changed fields), so both caches stay bounded. `key` must name
 * everything that changes the SQL text.
 */
async function run<R>(db: Db, key: string, build: () => Compilable<R>, values: Record<string, unknown>): Promise<R[]> {
  let template = templates.get(key);
  if (!template) {
    const compiled = build().compile() as CompiledQuery;
    const slots = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(SLOT) ? p.slice(SLOT.length) : undefined));
    prepareStatement(compiled.sql);
    template = { compiled, slots };
    templates.set(key, template);
  }
  const { compiled, slots } = template;
  const parameters = compiled.parameters.map((p, i) => {
    const name = slots[i];
    if (name === undefined) return p;
    if (!(name in values)) throw new Error(`query ${key}: no value for ${name}`);
    return values[name];
  });
  return (await db.executeQuery<R>({ ...compiled, parameters })).rows;
}

/** Conditions shared by a page and its count. The owner always comes first: no query without it. */
function scoped(eb: Eb, filter: TaskFilterValues): Array<Expression<SqlBool>> {
  const where: Array<Expression<SqlBool>> = [eb('owner_id', '=', slot('owner'))];
  if (filter.completed !== undefined) where.push(eb('completed', '=', slot('completed')));
  if (filter.priority !== undefined) where.push(eb('priority', '=', slot('priority')));
  if (filter.search) where.push(eb.or([eb('title', 'ilike', slot('search')), eb('description', 'ilike', slot('search'))]));
  if (filter.dueBefore !== undefined) where.push(eb('due_at', '<', slot('dueBefore')));
  if (filter.dueAfter !== undefined) where.push(eb('due_at', '>', slot('dueAfter')));
  return where;
}

/** The shape of a filter (which conditions it has) and the values of its slots. */
function filterSlots(ownerId: string, filter: TaskFilterValues): { shape: string; values: Record<string, unknown> } {
  const values: Record<string, unknown> = { owner: ownerId };
  let shape = '';
  for (const name of ['completed', 'priority', 'search', 'dueBefore', 'dueAfter'] as const) {
    const value = filter[name];
    if (value === undefined || value === '') continue;
    shape += `${name},`;
    values[name] = name === 'search' ? `%${escapeLike(value as string)}%` : value;
  }
  return { shape, values };
}

const tuple = (...names: string[]) => sql`(${sql.join(names.map((n) => slot(n)))})`;

/** Keyset condition: rows strictly after the cursor's position in its order (ties broken by id). */
function after(eb: Eb, position: CursorPosition): Expression<SqlBool> {
  switch (position.order) {
    case 'CREATED_AT_DESC':
      return sql<SqlBool>`(created_at, id) < ${tuple('createdAt', 'id')}`;
    case 'CREATED_AT_ASC':
      return sql<SqlBool>`(created_at, id) > ${tuple('createdAt', 'id')}`;
    case 'DUE_AT_ASC':
      return position.dueAt === null
        ? eb.and([eb('due_at', 'is', null), eb('id', '>', slot('id'))])
        : sql<SqlBool>`((due_at, id) > ${tuple('dueAt', 'id')} or due_at is null)`;
    case 'PRIORITY_DESC':
      return sql<SqlBool>`(priority, created_at, id) < ${tuple('priority', 'createdAt', 'id')}`;
  }
}

const ORDER_BY: Record<TaskOrder, ReturnType<typeof sql.raw>> = {
  CREATED_AT_DESC: sql.raw('created_at desc, id desc'),
  CREATED_AT_ASC: sql.raw('created_at asc, id asc'),
  DUE_AT_ASC: sql.raw('due_at asc nulls last, id asc'),
  PRIORITY_DESC: sql.raw('priority desc, created_at desc, id desc'),
};

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
    const [row] = await guarded(
      run(
        this.#db,
        'findOwned',
        () => this.#db.selectFrom('task').select(columns).where('id', '=', slot('id')).where('owner_id', '=', slot('owner')),
        {
          id,
          owner: ownerId,
        },
      ),
    );
    return row;
  }

  /**
   * Whether the owner has a task with this id and at which version, or whether it is someone
   * else's. Tells a missing task from another user's and nothing more about the latter.
   */
  async presence(ownerId: string, id: string): Promise<TaskPresence> {
    const build = () =>
      this.#db
        .selectFrom('task')
        .select((eb) => [
          eb('owner_id', '=', slot('owner')).as('own'),
          sql<number | null>`case when owner_id = ${slot('owner')} then version end`.as('version'),
        ])
        .where('id', '=', slot('id'));
    const [row] = await guarded(run(this.#db, 'presence', build, { id, owner: ownerId }));
    if (!row) return { kind: 'none' };
    return row.own && row.version !== null ? { kind: 'own', version: row.version } : { kind: 'foreign' };
  }

  /** Up to `limit` of the owner's tasks matching `filter`, in `order`, after `position`. */
  async page(ownerId: string, filter: TaskFilterValues, order: TaskOrder, limit: number, position?: CursorPosition): Promise<TaskRecord[]> {
    const { shape, values } = filterSlots(ownerId, filter);
    const cursor = !position ? 'none' : position.order === 'DUE_AT_ASC' && position.dueAt === null ? 'null' : 'value';
    const build = () =>
      this.#db
        .selectFrom('task')
        .select(columns)
        .where((eb) => eb.and(position ? [...scoped(eb, filter), after(eb, position)] : scoped(eb, filter)))
        .orderBy(ORDER_BY[order])
        .limit(slot('limit'));
    return guarded(run(this.#db, `page:${order}:${shape}:${cursor}`, build, { ...values, ...position, limit }));
  }

  async count(ownerId: string, filter: TaskFilterValues): Promise<number> {
    const { shape, values } = filterSlots(ownerId, filter);
    const build = () =>
      this.#db
        .selectFrom('task')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where((eb) => eb.and(scoped(eb, filter)));
    const [row] = await guarded(run(this.#db, `count:${shape}`, build, values));
    // count(*) is a bigint, which pg returns as a string.
    return Number(row?.count ?? 0);
  }

  /** Inserts the task; undefined when the owner no longer exists (foreign key to Better Auth's "user"). */
  async create(ownerId: string, task: NewTask): Promise<TaskRecord | undefined> {
    const build = () =>
      this.#db
        .insertInto('task')
        .values({
          id: slot('id'),
          owner_id: slot('owner'),
          title: slot('title'),
          description: slot('description'),
          completed: false,
          priority: slot('priority'),
          due_at: slot('dueAt'),
          created_at: sql<Date>`now()`,
          updated_at: sql<Date>`now()`,
          version: 1,
        })
        .returning(columns);
    // UUIDv7: time-ordered, so new rows append to the primary-key index.
    const values = { id: uuidv7(), owner: ownerId, title: task.title, description: task.description, priority: task.priority, dueAt: task.dueAt };
    try {
      return (await run(this.#db, 'create', build, values))[0];
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
    const fields = (['title', 'description', 'completed', 'priority', 'dueAt'] as const).filter((f) => changes[f] !== undefined);
    // Nothing to change: nothing is written and the version stays; the task is read as it is.
    if (fields.length === 0) {
      const task = await this.findOwned(ownerId, id);
      return task && (expectedVersion === undefined || task.version === expectedVersion) ? task : undefined;
    }
    const column = { title: 'title', description: 'description', completed: 'completed', priority: 'priority', dueAt: 'due_at' } as const;
    const build = () => {
      let query = this.#db
        .updateTable('task')
        // Concurrent updates of one row wait for each other's row lock, and PostgreSQL re-checks the
        // WHERE (the version) against the row the previous writer left: one of them wins.
        .set((eb) => ({
          ...Object.fromEntries(fields.map((f) => [column[f], slot(f)])),
          updated_at: sql<Date>`now()`,
          version: eb('version', '+', 1),
        }))
        .where('id', '=', slot('id'))
        .where('owner_id', '=', slot('owner'));
      if (expectedVersion !== undefined) query = query.where('version', '=', slot('expectedVersion'));
      return query.returning(columns);
    };
    const key = `update:${fields.join(',')}:${expectedVersion === undefined ? 'any' : 'expected'}`;
    const [row] = await guarded(run(this.#db, key, build, { ...changes, id, owner: ownerId, expectedVersion }));
    return row;
  }

  /** Deletes the owner's task (at `expectedVersion` when given); false when no row matched. */
  async delete(ownerId: string, id: string, expectedVersion?: number): Promise<boolean> {
    const build = () => {
      let query = this.#db.deleteFrom('task').where('id', '=', slot('id')).where('owner_id', '=', slot('owner'));
      if (expectedVersion !== undefined) query = query.where('version', '=', slot('expectedVersion'));
      return query.returning('id');
    };
    const key = `delete:${expectedVersion === undefined ? 'any' : 'expected'}`;
    const rows = await guarded(run(this.#db, key, build, { id, owner: ownerId, expectedVersion }));
    return rows.length > 0;
  }
}
