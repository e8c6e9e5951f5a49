import { createHash } from 'node:crypto';
import { ForeignKeyConstraintViolationException, type EntityManager } from '@mikro-orm/postgresql';
import { Unauthenticated } from '../errors.ts';
import type pg from 'pg';
import type { CursorPosition } from './task.cursor.ts';
import { TaskSchema, type Task } from './task.entity.ts';
import type { TaskFilterValues, TaskOrder, TaskRecord } from './task.model.ts';

// Timestamps leave PostgreSQL as the ISO strings clients receive (UTC, milliseconds, as stored):
// parsing them into Dates only to print them again cost about a tenth of a request's CPU.
const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLUMNS = `id, owner_id as "ownerId", title, description, completed, priority,
  ${iso('due_at')} as "dueAt", ${iso('created_at')} as "createdAt", ${iso('updated_at')} as "updatedAt"`;

const ORDER_BY: Record<TaskOrder, string> = {
  CREATED_AT_DESC: 'created_at desc, id desc',
  CREATED_AT_ASC: 'created_at asc, id asc',
  DUE_AT_ASC: 'due_at asc nulls last, id asc',
  PRIORITY_DESC: 'priority desc, created_at desc, id desc',
};

/** SQL text plus parameters; `$n` placeholders are numbered as parameters are added. */
class Query {
  readonly params: unknown[] = [];
  readonly conditions: string[] = [];
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  where(condition: string): void {
    this.conditions.push(condition);
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Conditions shared by a page and its count. The owner always comes first: no query without it. */
function scoped(ownerId: string, filter: TaskFilterValues): Query {
  const q = new Query();
  q.where(`owner_id = ${q.param(ownerId)}`);
  if (filter.completed !== undefined) q.where(`completed = ${q.param(filter.completed)}`);
  if (filter.priority !== undefined) q.where(`priority = ${q.param(filter.priority)}`);
  if (filter.search !== undefined && filter.search !== '') {
    const p = q.param(`%${escapeLike(filter.search)}%`);
    q.where(`(title ilike ${p} or description ilike ${p})`);
  }
  if (filter.dueBefore !== undefined) q.where(`due_at < ${q.param(filter.dueBefore)}`);
  if (filter.dueAfter !== undefined) q.where(`due_at > ${q.param(filter.dueAfter)}`);
  return q;
}

/** Keyset condition: rows strictly after `after` in its order (ties broken by id). */
function after(q: Query, position: CursorPosition): void {
  switch (position.order) {
    case 'CREATED_AT_DESC':
      q.where(`(created_at, id) < (${q.param(position.createdAt)}, ${q.param(position.id)})`);
      break;
    case 'CREATED_AT_ASC':
      q.where(`(created_at, id) > (${q.param(position.createdAt)}, ${q.param(position.id)})`);
      break;
    case 'DUE_AT_ASC':
      if (position.dueAt === null) {
        q.where(`(due_at is null and id > ${q.param(position.id)})`);
      } else {
        q.where(`((due_at, id) > (${q.param(position.dueAt)}, ${q.param(position.id)}) or due_at is null)`);
      }
      break;
    case 'PRIORITY_DESC':
      q.where(
        `(priority, created_at, id) < (${q.param(position.priority)}, ${q.param(position.createdAt)}, ${q.param(position.id)})`,
      );
      break;
  }
}

/**
 * Runs a query as a named prepared statement: PostgreSQL parses and plans each distinct text
 * once per connection instead of on every request. The set of texts is small and fixed (one per
 * combination of order, filters and cursor), so the statement cache stays bounded.
 */
const statementNames = new Map<string, string>();

async function rows<T extends pg.QueryResultRow>(db: pg.Pool, text: string, values: unknown[]): Promise<T[]> {
  let name = statementNames.get(text);
  if (!name) statementNames.set(text, (name = `task_${createHash('sha1').update(text).digest('base64url').slice(0, 16)}`));
  return (await db.query<T>({ name, text, values })).rows;
}

function record(task: Task): TaskRecord {
  const { id, ownerId, title, description, completed, priority, dueAt, createdAt, updatedAt } = task;
  return {
    id,
    ownerId,
    title,
    description: description ?? null,
    completed,
    priority,
    dueAt: dueAt?.toISOString() ?? null,
    createdAt: createdAt.toISOString(),
    updatedAt: updatedAt.toISOString(),
  };
}

export interface NewTask {
  title: string;
  description: string | null;
  priority: number;
  dueAt: Date | null;
}
export type TaskChanges = Partial<NewTask & { completed: boolean }>;

/**
 * Every query of the task table. Reads are SQL over a pg pool (plain rows, prepared statements:
 * the hot path); writes go through MikroORM's unit of work on the request's EntityManager, whose
 * `owner` filter scopes them. Every method takes the owner: there is no unscoped read of a task.
 */
export class TaskRepository {
  readonly #db: pg.Pool;
  readonly #forkEm: () => EntityManager;
  #forked: EntityManager | undefined;

  /** `em` forks the request's EntityManager; called on the first write only (reads need none). */
  constructor(db: pg.Pool, em: () => EntityManager) {
    this.#db = db;
    this.#forkEm = em;
  }

  get #em(): EntityManager {
    return (this.#forked ??= this.#forkEm());
  }

  async findOwned(ownerId: string, id: string): Promise<TaskRecord | undefined> {
    const [row] = await rows<TaskRecord>(this.#db, `select ${COLUMNS} from task where id = $1 and owner_id = $2`, [id, ownerId]);
    return row;
  }

  /** Whether any task has this id: tells a missing task from someone else's, and nothing more. */
  async exists(id: string): Promise<boolean> {
    const [row] = await rows<{ exists: boolean }>(this.#db, 'select exists (select 1 from task where id = $1)', [id]);
    return row?.exists ?? false;
  }

  /** Up to `limit` of the owner's tasks matching `filter`, in `order`, after `position`. */
  async page(ownerId: string, filter: TaskFilterValues, order: TaskOrder, limit: number, position?: CursorPosition): Promise<TaskRecord[]> {
    const q = scoped(ownerId, filter);
    if (position) after(q, position);
    const text = `select ${COLUMNS} from task where ${q.conditions.join(' and ')} order by ${ORDER_BY[order]} limit ${q.param(limit)}`;
    return rows<TaskRecord>(this.#db, text, q.params);
  }

  async count(ownerId: string, filter: TaskFilterValues): Promise<number> {
    const q = scoped(ownerId, filter);
    const [row] = await rows<{ count: number }>(this.#db, `select count(*)::int as count from task where ${q.conditions.join(' and ')}`, q.params);
    return row?.count ?? 0;
  }

  async create(ownerId: string, fields: NewTask): Promise<TaskRecord> {
    const task = this.#em.create(TaskSchema, { ownerId, completed: false, ...fields });
    try {
      await this.#em.flush();
    } catch (err) {
      // The owner's account was deleted after the request's token was checked (the foreign key to
      // Better Auth's "user" exists when both share the database).
      if (err instanceof ForeignKeyConstraintViolationException) throw new Unauthenticated('The account of this token no longer exists.');
      throw err;
    }
    return record(task);
  }

  /** Applies `changes` to the owner's task; undefined when the owner has no task with this id. */
  async update(ownerId: string, id: string, changes: TaskChanges): Promise<TaskRecord | undefined> {
    const task = await this.#em.findOne(TaskSchema, { id, ownerId }, { filters: { owner: { id: ownerId } } });
    if (!task) return undefined;
    this.#em.assign(task, changes);
    await this.#em.flush();
    return record(task);
  }

  /** Deletes the owner's task; false when the owner has no task with this id. */
  async delete(ownerId: string, id: string): Promise<boolean> {
    const deleted = await this.#em.nativeDelete(TaskSchema, { id, ownerId }, { filters: { owner: { id: ownerId } } });
    return deleted > 0;
  }
}
