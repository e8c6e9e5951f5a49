import {
  sql,
  type Compilable,
  type CompiledQuery,
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type SelectQueryBuilder,
  type SqlBool,
} from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { Batcher } from '../db/batcher.ts';
import { prepareStatement } from '../db/connection.ts';
import type { PoolShare } from '../db/pool-share.ts';
import { databaseError, refusedStatement } from '../db/errors.ts';
import { ALONE, WriteBatcher } from '../db/write-batcher.ts';
import { QuotaExceeded } from '../errors.ts';
import type { CursorPosition } from './task.cursor.ts';
import type { TaskTables } from './task.entity.ts';
import { PRIORITY_NAMES, type TaskFilterValues, type TaskOrder, type TaskPriority, type TaskRecord } from './task.model.ts';

type Db = Kysely<TaskTables>;
type Eb = ExpressionBuilder<TaskTables, 'task'>;

// Timestamps leave PostgreSQL as the ISO strings clients receive (UTC, milliseconds, as stored):
// parsing them into Dates only to print them again cost about a tenth of a request's CPU.
const iso = (column: 'due_at' | 'created_at' | 'updated_at') =>
  sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// The priority leaves PostgreSQL by name (TaskRecord.priority), from the rank it is stored as (which
// orders it): no resolver per task maps it on the way out.
const PRIORITY_BY_RANK = sql.raw(`array[${PRIORITY_NAMES.map((name) => `'${name}'`).join(', ')}]::text[]`);
const priorityName = (column: string) => sql<TaskPriority>`(${PRIORITY_BY_RANK})[${sql.ref(column)} + 1]`;

/** The columns of a TaskRecord, only those, under their record names. */
const columns = (eb: Eb) => [
  'id' as const,
  eb.ref('owner_id').as('ownerId'),
  'title' as const,
  'description' as const,
  'completed' as const,
  priorityName('priority').as('priority'),
  iso('due_at').as('dueAt'),
  iso('created_at').as('createdAt'),
  iso('updated_at').as('updatedAt'),
  'version' as const,
];

// Queries are built with Kysely once per shape, with named slots where the request's values go,
// and then only filled in: building and compiling a query on every request cost more CPU than
// the rest of the data path. A slot is a marker string Kysely passes through as a parameter. Every
// parameter of a query must be a slot (see `run`): a value written into a shape as a constant (an
// owner id, say) would be compiled once and then sent with every request of that shape, whoever
// made it. Constants of the SQL itself are literals (sql.lit), not parameters.
const SLOT = '\u0000slot:';

/**
 * Where a request's value goes in a query: a parameter (`slot`), or, in a batch of pages, the
 * column of that name of the batch's row (`batchColumn`, see TaskRepository.page). `S` names the
 * slots a query may use: a page's builder only gets page slots, so the compiler refuses a
 * condition whose value a batch could not carry.
 */
type Value<S extends string = string> = (name: S) => never;
// Typed `never` so that it fits wherever Kysely expects a value of the column's type.
export const slot: Value = (name) => `${SLOT}${name}` as never;

/**
 * The slots of a page query and their PostgreSQL types: a batch of pages sends each slot as an
 * array of this type. A page condition can only use these (`PageSlot`), so a new filter does not
 * compile until it has a type here; it can never meet a missing type under load, the only time a
 * batch is built. (A text search is never batched: its value is a slot of its own, `search`.)
 */
const PAGE_SLOT_TYPES = {
  owner: 'text',
  priority: 'int2',
  dueBefore: 'timestamptz',
  dueAfter: 'timestamptz',
  afterCreatedAt: 'timestamptz',
  afterDueAt: 'timestamptz',
  afterPriority: 'int2',
  afterId: 'uuid',
  limit: 'int4',
} as const satisfies Record<string, 'text' | 'bool' | 'int2' | 'int4' | 'timestamptz' | 'uuid'>;
type PageSlot = keyof typeof PAGE_SLOT_TYPES;
/** The values of a page's slots. */
type PageValues = Partial<Record<PageSlot, unknown>>;
const batchColumn: Value<PageSlot> = (name) => sql.ref(`b.${name}`) as never;
/** The fields of a TaskRecord; a field added to TaskRecord and missing here does not compile. */
const RECORD_FIELDS = Object.keys({
  id: true,
  ownerId: true,
  title: true,
  description: true,
  completed: true,
  priority: true,
  dueAt: true,
  createdAt: true,
  updatedAt: true,
  version: true,
} satisfies Record<keyof TaskRecord, true>);

export interface Template {
  compiled: CompiledQuery;
  /** For each parameter, the name of its slot. */
  slots: string[];
}
const templates = new Map<string, Template>();

/**
 * A shape's query, compiled, with each parameter's slot. Refuses (throws, and caches nothing) a
 * parameter that is not a slot the caller declared in `values`: a constant would be shared by
 * every request of the shape, an undeclared slot is a name the caller never fills.
 */
export function compileTemplate(key: string, build: () => Compilable, values: Record<string, unknown>): Template {
  const compiled = build().compile();
  const slots = compiled.parameters.map((p, i) => {
    if (typeof p !== 'string' || !p.startsWith(SLOT)) {
      throw new Error(`query ${key}: parameter $${i + 1} is not a slot; a value in a cached query must be slot('name') (constants: sql.lit)`);
    }
    const name = p.slice(SLOT.length);
    if (!(name in values)) throw new Error(`query ${key}: slot ${name} is not among the values declared for it`);
    return name;
  });
  return { compiled, slots };
}

/**
 * Runs the query of shape `key` (built by `build` the first time) with `values` in its slots, as
 * a named prepared statement (see prepareStatement). Shapes are few and fixed (one per combination
 * of order, filters and cursor; of changed fields), so both caches stay bounded. `key` must name
 * everything that changes the SQL text; `values` declares the slots, and every parameter of the
 * query must be one of them.
 */
async function run<R>(
  db: Db,
  key: string,
  build: () => Compilable<R>,
  values: Record<string, unknown>,
  options: { prepared?: boolean } = {},
): Promise<R[]> {
  let template = templates.get(key);
  if (!template) {
    template = compileTemplate(key, build, values);
    // Unprepared (unnamed), a statement is planned for its values each time (see valueDependent).
    if (options.prepared !== false) prepareStatement(template.compiled.sql);
    templates.set(key, template);
  }
  const { compiled, slots } = template;
  const parameters = slots.map((name) => {
    if (!(name in values)) throw new Error(`query ${key}: no value for ${name}`);
    return values[name];
  });
  return (await db.executeQuery<R>({ ...compiled, parameters })).rows;
}

/**
 * Conditions shared by a page and its count, but the text search (`searched`). The owner always
 * comes first: no query without it. `completed` is a constant of the shape, not a slot: a
 * prepared statement's generic plan can then use the partial indexes of open tasks (migration
 * Migration20261218000000_open_task_indexes), which `completed = $2` could never prove it may.
 */
function scoped(eb: Eb, filter: TaskFilterValues, v: Value<PageSlot> = slot): Array<Expression<SqlBool>> {
  const where: Array<Expression<SqlBool>> = [eb('owner_id', '=', v('owner'))];
  if (filter.completed !== undefined) where.push(eb('completed', '=', sql.lit(filter.completed)));
  if (filter.priority !== undefined) where.push(eb('priority', '=', v('priority')));
  // On DUE, the due-date indexes' key (tasks without a due date last); `< 'infinity'` leaves them out.
  if (filter.dueBefore !== undefined) where.push(sql<SqlBool>`${DUE} < ${v('dueBefore')}`);
  if (filter.dueAfter !== undefined) where.push(sql<SqlBool>`(${DUE} > ${v('dueAfter')} and ${DUE} < 'infinity')`);
  return where;
}

/**
 * The text search of a filter, if it has one (never batched, so never a page slot): the text
 * contained in the title or the description, ignoring case. Written as strpos of lower(): what
 * ILIKE '%text%' does in a UTF-8 database (it lowers both sides, then matches), without LIKE's
 * backtracking, which tries the whole pattern at every position: a search of 199 'a's and a 'b'
 * over 10,000 'a's took 4.5 ms a task (4.5 s over the 10 MiB a user may store), 0.3 ms so.
 */
function searched(filter: TaskFilterValues): Array<Expression<SqlBool>> {
  if (!filter.search) return [];
  const text = sql`lower(${slot('search')})`;
  return [sql<SqlBool>`(strpos(lower(title), ${text}) > 0 or strpos(lower(description), ${text}) > 0)`];
}

/** The shape of a filter (which conditions it has), the values of its page slots, and its search pattern. */
function filterSlots(ownerId: string, filter: TaskFilterValues): { shape: string; values: PageValues; search: string | undefined } {
  const values: PageValues = { owner: ownerId };
  let shape = '';
  if (filter.completed !== undefined) shape += `completed=${filter.completed},`;
  for (const name of ['priority', 'dueBefore', 'dueAfter'] as const) {
    const value = filter[name];
    if (value === undefined) continue;
    shape += `${name},`;
    values[name] = value;
  }
  const search = filter.search ? filter.search : undefined;
  if (search !== undefined) shape += 'search,';
  return { shape, values, search };
}

const tuple = (v: Value<PageSlot>, ...names: PageSlot[]) => sql`(${sql.join(names.map((n) => v(n)))})`;

/**
 * The due-date order's key, as the due-date indexes hold it (migration
 * Migration20261218000001_due_order_key): a task without a due date sorts as due at infinity, so
 * "due_at asc nulls last" is one ascending key, and every condition on it (a cursor, a range) is
 * one range of the index. With `due_at` and `or due_at is null`, a cursor's condition was a filter:
 * a page deep into 1.5M tasks skipped every entry before it (0.9-2 s); now 0.7 ms.
 */
const DUE_KEY = "coalesce(due_at, 'infinity')";
const DUE = sql.raw(DUE_KEY);

/** Keyset condition: rows strictly after the cursor's position in its order (ties broken by id). */
function after(position: CursorPosition, v: Value<PageSlot> = slot): Expression<SqlBool> {
  switch (position.order) {
    case 'CREATED_AT_DESC':
      return sql<SqlBool>`(created_at, id) < ${tuple(v, 'afterCreatedAt', 'afterId')}`;
    case 'CREATED_AT_ASC':
      return sql<SqlBool>`(created_at, id) > ${tuple(v, 'afterCreatedAt', 'afterId')}`;
    case 'DUE_AT_ASC':
      // One range of the due-date index whether the cursor's task has a due date or not.
      return sql<SqlBool>`(${DUE}, id) > (coalesce(${v('afterDueAt')}::timestamptz, 'infinity'), ${v('afterId')})`;
    case 'PRIORITY_DESC':
      return sql<SqlBool>`(priority, created_at, id) < ${tuple(v, 'afterPriority', 'afterCreatedAt', 'afterId')}`;
  }
}

/** The values of a cursor's slots (named apart from the filter's: both may have a priority). */
function positionSlots(position: CursorPosition | undefined): PageValues {
  if (!position) return {};
  switch (position.order) {
    case 'CREATED_AT_DESC':
    case 'CREATED_AT_ASC':
      return { afterCreatedAt: position.createdAt, afterId: position.id };
    case 'DUE_AT_ASC':
      return { afterDueAt: position.dueAt, afterId: position.id };
    case 'PRIORITY_DESC':
      return { afterPriority: position.priority, afterCreatedAt: position.createdAt, afterId: position.id };
  }
}

const ORDER_BY: Record<TaskOrder, ReturnType<typeof sql.raw>> = {
  CREATED_AT_DESC: sql.raw('created_at desc, id desc'),
  CREATED_AT_ASC: sql.raw('created_at asc, id asc'),
  DUE_AT_ASC: sql.raw(`${DUE_KEY} asc, id asc`),
  // Qualified: the output column "priority" is the name, and ORDER BY would sort by it.
  PRIORITY_DESC: sql.raw('task.priority desc, created_at desc, id desc'),
};

/** One page request: its values, and its query with those values in slots or in batch columns. */
interface PageRequest {
  values: PageValues;
  order: TaskOrder;
  build: (v: Value<PageSlot>) => SelectQueryBuilder<TaskTables, 'task', TaskRecord>;
  /** Read alone and planned for its values (see valueDependent). */
  alone: boolean;
}

/**
 * Whether the best plan of a page depends on its values, not only its shape: a due-date range in
 * an order other than by due date. Either the order's index is walked, skipping the rows outside
 * the range, or the range is read from the due-date index and sorted; which is quick depends on
 * how many of the owner's tasks the range holds. A prepared statement's generic plan (and the
 * lateral subquery of a batch) guesses once for every value: for a user with 1.5M tasks and a
 * range holding none of them, it walked all 1.5M (2.1 s) where the plan for the values took 7 ms.
 * Such pages are planned for their values each time (unnamed statements) and never batched.
 */
const valueDependent = (filter: TaskFilterValues, order: TaskOrder) =>
  order !== 'DUE_AT_ASC' && (filter.dueBefore !== undefined || filter.dueAfter !== undefined);

/** At most this many pages in one query: a bound on its parameters and on its rows (x limit). */
const MAX_PAGE_BATCH = 64;
/**
 * A read of one user's that takes this long is slow by any measure (a page takes milliseconds):
 * that user's pages are then read alone, never batched with others' (db/batcher.ts).
 */
const SLOW_READ_MS = 1_000;
/** How long a slow user's pages are read alone. */
const UNBATCHED_MS = 60_000;
/** query_canceled: the statement timeout (a read too costly), as opposed to an outage. */
const isStatementTimeout = (err: unknown) => (err as { code?: unknown } | null)?.code === '57014';

/** How much one user may store (config.quotas). */
export interface Quotas {
  maxTasksPerUser: number;
  maxTaskTextBytesPerUser: number;
}

/** The fields an update may change, and their columns. */
const UPDATE_FIELDS = ['title', 'description', 'completed', 'priority', 'dueAt'] as const;
const UPDATE_COLUMN = { title: 'title', description: 'description', completed: 'completed', priority: 'priority', dueAt: 'due_at' } as const;

/**
 * A one-row FROM item that hands the quotas to the task_usage triggers (migration
 * Migration20261216000000_task_usage) for the rest of the statement's transaction. A volatile
 * subquery is evaluated once, before any row is written.
 */
const QUOTA_LIMITS =
  sql`(select set_config('taskgraph.max_tasks', ${slot('maxTasks')}, true), set_config('taskgraph.max_text_bytes', ${slot('maxTextBytes')}, true))`.as(
    'quota',
  );

/**
 * QUOTA_LIMITS for a batch of creates, with a short lock_timeout for the rest of the statement (see
 * BATCH_LOCK_TIMEOUT_MS): a batch that waits past it fails with nothing written, and its creates run alone.
 */
const BATCH_LIMITS = sql`(select set_config('taskgraph.max_tasks', ${slot('maxTasks')}, true),
    set_config('taskgraph.max_text_bytes', ${slot('maxTextBytes')}, true), set_config('lock_timeout', ${slot('lockTimeout')}, true))`.as('quota');

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

/** The writes that are batched (see TaskRepository's constructor): a create, or an update that changes no text. */
type Write =
  | { kind: 'create'; values: CreateValues }
  | { kind: 'update'; ownerId: string; id: string; changes: TaskChanges; expectedVersion: number | undefined };
interface CreateValues {
  id: string;
  owner: string;
  title: string;
  description: string | null;
  priority: number;
  dueAt: Date | null;
}

/** At most this many writes in one statement: a bound on its rows, its locks and its time. */
const MAX_WRITE_BATCH = 64;
/**
 * How long a batch of creates waits for a lock (the owners' task_usage rows, which a create or a
 * text update of the same owner holds until it commits) before it gives up and each of its creates
 * is run alone: a row held by a long transaction elsewhere must not hold everyone's creates.
 */
const BATCH_LOCK_TIMEOUT_MS = 250;

/** A task's columns under their record names, read from the row `t` (a batch's statements join other rows that have an id too). */
const RETURNED = sql.join([
  sql`t.id`,
  sql`t.owner_id as "ownerId"`,
  sql`t.title`,
  sql`t.description`,
  sql`t.completed`,
  sql`${priorityName('t.priority')} as priority`,
  ...(['due_at', 'created_at', 'updated_at'] as const).map(
    (c) =>
      sql`to_char(${sql.ref(`t.${c}`)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ${sql.id({ due_at: 'dueAt', created_at: 'createdAt', updated_at: 'updatedAt' }[c])}`,
  ),
  sql`t.version`,
]);

/** What the owner has under an id, told without loading the task: nothing, someone else's, or theirs (at a version). */
export type TaskPresence = { kind: 'none' } | { kind: 'foreign' } | { kind: 'own'; version: number };

/**
 * Every query of the task table, through MikroORM's Kysely (the ORM's one pool). Every write is one
 * statement with the owner in its WHERE and the row back through RETURNING: no read before a write,
 * no transaction. Every method takes the owner: there is no unscoped read of a task.
 */
export class TaskRepository {
  readonly #db: Db;
  readonly #share: PoolShare;
  readonly #pages: Batcher<PageRequest, TaskRecord[]>;
  /** Text searches (pages and counts): slots of their own, never batched. */
  readonly #searches: Batcher<() => Promise<unknown>, unknown>;
  readonly #onPageQuery: (pages: number) => void;
  readonly #quotas: Quotas;
  /** The quotas as the statements' slots take them (set_config takes text). */
  readonly #limits: { maxTasks: string; maxTextBytes: string };
  readonly #writes: WriteBatcher<Write, TaskRecord | undefined>;

  /**
   * One per application: the batcher of pages is shared by all requests. `concurrentPages`: how
   * many page queries may be in flight at once before requests wait to be batched
   * (DB_PAGE_CONCURRENCY; the rest of the pool stays free for writes and the other reads).
   * `concurrentSearches`: how many text searches may run at once (DB_SEARCH_CONCURRENCY). One
   * user holds at most half of either (at least one); see db/batcher.ts.
   * `share`: every statement runs within its owner's share of the pool (DB_POOL_MAX_PER_USER).
   * `onPageQuery`: told how many pages each page query read (metrics: how much batching happens).
   */
  constructor(
    db: Db,
    options: {
      concurrentPages: number;
      concurrentSearches?: number;
      maxWaitMs: number;
      quotas: Quotas;
      share: PoolShare;
      onPageQuery?: (pages: number) => void;
      /** Batched writes in flight at once before writes wait to be batched (DB_WRITE_CONCURRENCY); default 2. */
      concurrentWrites?: number;
      /** Told how many writes each write statement carried (metrics: how much batching happens). */
      onWriteStatement?: (operation: Write['kind'], writes: number) => void;
    },
  ) {
    this.#db = db;
    this.#onPageQuery = options.onPageQuery ?? (() => {});
    this.#share = options.share;
    this.#quotas = options.quotas;
    this.#limits = { maxTasks: String(options.quotas.maxTasksPerUser), maxTextBytes: String(options.quotas.maxTaskTextBytesPerUser) };
    this.#pages = new Batcher({
      concurrency: options.concurrentPages,
      maxBatch: MAX_PAGE_BATCH,
      maxWaitMs: options.maxWaitMs,
      runOne: (key, request) => this.#page(key, request),
      runMany: (key, requests) => this.#pageBatch(key, requests),
      alone: (request) => request.alone,
      isTimeout: isStatementTimeout,
      slowMs: SLOW_READ_MS,
      unbatchedMs: UNBATCHED_MS,
    });
    this.#searches = new Batcher({
      concurrency: options.concurrentSearches ?? 2,
      maxBatch: 1,
      maxWaitMs: options.maxWaitMs,
      runOne: (_key, search) => search(),
      runMany: (_key, searches) => Promise.all(searches.map((search) => search())),
    });
    // Creates, and updates that change no text, are batched under load: a busy database spends most
    // of a single-row write on the statement and its commit, not on the row (see createMany and
    // updateMany). Text updates stay alone: the quota trigger locks their owner's usage row, in an
    // order an UPDATE cannot set.
    const onWrite = options.onWriteStatement ?? (() => {});
    this.#writes = new WriteBatcher<Write, TaskRecord | undefined>({
      concurrency: options.concurrentWrites ?? 2,
      maxBatch: MAX_WRITE_BATCH,
      maxWaitMs: options.maxWaitMs,
      runOne: (_, write) => (write.kind === 'create' ? this.#createOne(write.values) : this.#updateOne(write)),
      runMany: (kind, writes) => (kind === 'create' ? this.#createMany(writes) : this.#updateMany(writes)),
      retryAlone: refusedStatement,
      onBatch: (kind, size) => {
        onWrite(kind as Write['kind'], size);
      },
    });
  }

  /** Page reads waiting for their turn (DB_PAGE_CONCURRENCY in flight, or their user's share). */
  pagesWaiting(): number {
    return this.#pages.stats().waiting;
  }

  /** Writes waiting for their turn to be sent (DB_WRITE_CONCURRENCY in flight). */
  writesWaiting(): number {
    return this.#writes.waiting();
  }

  /** Milliseconds the longest-waiting batched write has waited for its turn (queued database work); 0 when none waits. */
  writeWaitMs(): number {
    return this.#writes.oldestWaitMs();
  }

  /**
   * Milliseconds the longest-waiting page read or search has waited for a free slot (queued
   * database work); 0 when none waits. Reads waiting for their own user's share do not count.
   */
  pageWaitMs(): number {
    return Math.max(this.#pages.oldestWaitMs(), this.#searches.oldestWaitMs());
  }

  /** A text search of the owner's (page or count), in its turn among the search slots. */
  #search<R>(ownerId: string, key: string, work: () => Promise<R>): Promise<R> {
    return this.#for(ownerId, () => this.#searches.run(key, work, ownerId) as Promise<R>);
  }

  /** `work` (the owner's statements) within the owner's share of the pool; outages as ServiceUnavailable. */
  #for<R>(ownerId: string, work: () => Promise<R>): Promise<R> {
    return guarded(this.#share.run(ownerId, work));
  }

  async findOwned(ownerId: string, id: string): Promise<TaskRecord | undefined> {
    const [row] = await this.#for(ownerId, () =>
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
    const [row] = await this.#for(ownerId, () => run(this.#db, 'presence', build, { id, owner: ownerId }));
    if (!row) return { kind: 'none' };
    return row.own && row.version !== null ? { kind: 'own', version: row.version } : { kind: 'foreign' };
  }

  /**
   * Up to `limit` of the owner's tasks matching `filter`, in `order`, after `position`. Pages
   * without a text search go through the batcher: under load, pages of one shape asked for by
   * different requests are read in one query (see pageBatch).
   */
  async page(ownerId: string, filter: TaskFilterValues, order: TaskOrder, limit: number, position?: CursorPosition): Promise<TaskRecord[]> {
    const { shape, values, search } = filterSlots(ownerId, filter);
    const cursor = position ? 'after' : 'none';
    const key = `page:${order}:${shape}:${cursor}`;
    const query = (v: Value<PageSlot>, where: (eb: Eb) => Array<Expression<SqlBool>> = () => []) =>
      this.#db
        .selectFrom('task')
        .select(columns)
        .where((eb) => eb.and([...scoped(eb, filter, v), ...(position ? [after(position, v)] : []), ...where(eb)]))
        .orderBy(ORDER_BY[order])
        .limit(v('limit'));
    const pageValues: PageValues = { ...values, ...positionSlots(position), limit };
    // A search's cost depends on the owner's data (a scan of their text): never batched, and in
    // slots of its own, so that searches leave the page slots to pages.
    if (search !== undefined) {
      return this.#search(ownerId, key, () => {
        this.#onPageQuery(1);
        return run(this.#db, key, () => query(slot, () => searched(filter)), { ...pageValues, search });
      });
    }
    const request = { values: pageValues, order, build: (v: Value<PageSlot>) => query(v), alone: valueDependent(filter, order) };
    // Not through the owner's pool share: the page batcher holds each user to their share of its
    // slots (one query in flight with the default, fewer connections than the pool share), and a
    // user's waiting pages must reach it to be read together in that one query (see Batcher).
    return guarded(this.#pages.run(key, request, ownerId));
  }

  #page(key: string, request: PageRequest): Promise<TaskRecord[]> {
    this.#onPageQuery(1);
    return run(this.#db, key, () => request.build(slot), request.values, { prepared: !request.alone });
  }

  /**
   * Pages of one shape for several requests, in one query: the requests' values are arrays
   * unnested into one row per request (b), and each row's page is the same query as on its own,
   * with b's columns where its parameters were (a LATERAL subquery: one index range scan per
   * request, as before). Rows come back numbered by request and by place in the page.
   */
  async #pageBatch(key: string, requests: PageRequest[]): Promise<TaskRecord[][]> {
    const [first] = requests as [PageRequest, ...PageRequest[]];
    // The keys of PageValues: page slots, each with its type.
    const names = Object.keys(first.values) as PageSlot[];
    const build = () => {
      const inner = first.build(batchColumn).select(sql<string>`row_number() over (order by ${ORDER_BY[first.order]})`.as('rowOrd'));
      const arrays = names.map((n) => sql`${slot(n)}::${sql.raw(PAGE_SLOT_TYPES[n])}[]`);
      const query = sql<TaskRecord & { batchOrd: string }>`select b.ord as "batchOrd", ${sql.join(RECORD_FIELDS.map((f) => sql.ref(`t.${f}`)))}
        from unnest(${sql.join(arrays)}) with ordinality as b(${sql.join(names.map((n) => sql.id(n)))}, ord)
        cross join lateral (${inner}) as t
        order by b.ord, t."rowOrd"`;
      return { compile: () => query.compile(this.#db) };
    };
    const values = Object.fromEntries(names.map((n) => [n, requests.map((r) => r.values[n])]));
    this.#onPageQuery(requests.length);
    const rows = await run(this.#db, `batch:${key}`, build, values);
    const pages = requests.map((): TaskRecord[] => []);
    for (const { batchOrd, ...task } of rows) {
      const index = Number(batchOrd) - 1;
      // Each page is its owner's by construction; a row of anyone else's would be a bug here.
      const page = pages[index];
      if (!page || task.ownerId !== requests[index]?.values.owner) throw new Error('a batched page holds a row of another owner');
      // The record as an unbatched read returns it (without the batch's numbering).
      page.push(task);
    }
    return pages;
  }

  async count(ownerId: string, filter: TaskFilterValues): Promise<number> {
    const { shape, values, search } = filterSlots(ownerId, filter);
    const build = () =>
      this.#db
        .selectFrom('task')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where((eb) => eb.and([...scoped(eb, filter), ...searched(filter)]));
    const key = `count:${shape}`;
    const [row] =
      search === undefined
        ? await this.#for(ownerId, () => run(this.#db, key, build, values))
        : await this.#search(ownerId, key, () => run(this.#db, key, build, { ...values, search }));
    // count(*) is a bigint, which pg returns as a string.
    return Number(row?.count ?? 0);
  }

  /**
   * Inserts the task; undefined when the owner no longer exists (foreign key to Better Auth's
   * "user"). QuotaExceeded, with nothing stored, when the owner's tasks or text would pass a quota.
   */
  async create(ownerId: string, task: NewTask): Promise<TaskRecord | undefined> {
    // UUIDv7: time-ordered, so new rows append to the primary-key index.
    const values: CreateValues = {
      id: uuidv7(),
      owner: ownerId,
      title: task.title,
      description: task.description,
      priority: task.priority,
      dueAt: task.dueAt,
    };
    try {
      return await this.#share.run(ownerId, () => this.#writes.run('create', { kind: 'create', values }));
    } catch (err) {
      // The owner's account was deleted after the request's token was checked (the foreign key to
      // Better Auth's "user" exists when both share the database).
      if ((err as { code?: unknown }).code === '23503') return undefined;
      throw this.#quotaError(err) ?? databaseError(err);
    }
  }

  /** One create in one statement, as it runs unbatched. */
  async #createOne(values: CreateValues): Promise<TaskRecord | undefined> {
    // INSERT ... SELECT FROM the quota row: the triggers that count (and bound) what each user
    // stores read the limits it sets. Values in a SELECT list carry no column type: cast them.
    const build = () =>
      this.#db
        .insertInto('task')
        .columns(['id', 'owner_id', 'title', 'description', 'completed', 'priority', 'due_at', 'created_at', 'updated_at', 'version'])
        .expression(
          sql`select ${slot('id')}::uuid, ${slot('owner')}::text, ${slot('title')}::text, ${slot('description')}::text, false,
            ${slot('priority')}::int2, ${slot('dueAt')}::timestamptz, now(), now(), 1 from ${QUOTA_LIMITS}`,
        )
        .returning(columns);
    return (await run(this.#db, 'create', build, { ...values, ...this.#limits }))[0];
  }

  /**
   * Creates of several users (or one) in one INSERT ... SELECT FROM unnest: each row as #createOne
   * writes it, with the same triggers (the change log, the quotas: row by row, so a quota is as
   * exact as with one statement each). Rows go in owner order, so the usage rows their triggers
   * lock are locked in the same order by every batch (two batches never wait for each other in a
   * cycle). A failure of one row (a quota, a deleted owner) fails the statement, and nothing of it
   * is stored: the batcher then runs each create alone, which gives each its own answer.
   */
  async #createMany(writes: Write[]): Promise<Array<TaskRecord | undefined>> {
    const creates = writes.map((w) => (w as Extract<Write, { kind: 'create' }>).values);
    const [only] = creates;
    if (only && creates.length === 1) return [await this.#createOne(only)];
    const build = () =>
      this.#db
        .insertInto('task')
        .columns(['id', 'owner_id', 'title', 'description', 'completed', 'priority', 'due_at', 'created_at', 'updated_at', 'version'])
        .expression(
          sql`select b.id, b.owner, b.title, b.description, false, b.priority, b.due_at, now(), now(), 1
            from ${BATCH_LIMITS}, unnest(${slot('id')}::uuid[], ${slot('owner')}::text[], ${slot('title')}::text[], ${slot('description')}::text[],
              ${slot('priority')}::int2[], ${slot('dueAt')}::timestamptz[]) as b(id, owner, title, description, priority, due_at)
            order by b.owner, b.id`,
        )
        .returning(columns);
    const values = {
      id: creates.map((c) => c.id),
      owner: creates.map((c) => c.owner),
      title: creates.map((c) => c.title),
      description: creates.map((c) => c.description),
      priority: creates.map((c) => c.priority),
      dueAt: creates.map((c) => c.dueAt),
      ...this.#limits,
      lockTimeout: String(BATCH_LOCK_TIMEOUT_MS),
    };
    const rows = new Map((await run(this.#db, 'create:batch', build, values)).map((row) => [row.id, row]));
    return creates.map((c) => {
      const row = rows.get(c.id);
      // Each row is its owner's by construction; anything else would be a bug here.
      if (row?.ownerId !== c.owner) throw new Error('a batched create returned no row, or the row of another owner');
      return row;
    });
  }

  /** The QuotaExceeded a task_usage trigger's refusal stands for (SQLSTATE QT001/QT002), if it is one. */
  #quotaError(err: unknown): QuotaExceeded | undefined {
    const code = (err as { code?: unknown }).code;
    if (code === 'QT001') {
      const max = this.#quotas.maxTasksPerUser;
      return new QuotaExceeded(`You already have ${max} tasks, the most one user may store: delete some to add more.`, {
        limit: max,
        setting: 'MAX_TASKS_PER_USER',
      });
    }
    if (code === 'QT002') {
      const max = this.#quotas.maxTaskTextBytesPerUser;
      return new QuotaExceeded(
        `This would take the text of your tasks (titles and descriptions) past ${max} bytes, the most one user may store: shorten or delete some.`,
        { limit: max, setting: 'MAX_TASK_TEXT_BYTES_PER_USER' },
      );
    }
    return undefined;
  }

  /**
   * Applies `changes` to the owner's task, at `expectedVersion` when given, in one UPDATE;
   * undefined when no row matched (missing, someone else's, or another version).
   */
  async update(ownerId: string, id: string, changes: TaskChanges, expectedVersion?: number): Promise<TaskRecord | undefined> {
    const fields = UPDATE_FIELDS.filter((f) => changes[f] !== undefined);
    // Nothing to change: nothing is written and the version stays; the task is read as it is.
    if (fields.length === 0) {
      const task = await this.findOwned(ownerId, id);
      return task && (expectedVersion === undefined || task.version === expectedVersion) ? task : undefined;
    }
    const write = { kind: 'update' as const, ownerId, id, changes, expectedVersion };
    // Text that changes counts against the owner's text quota: never batched (see the constructor).
    const changesText = changes.title !== undefined || changes.description !== undefined;
    try {
      return await this.#share.run(ownerId, () => (changesText ? this.#updateOne(write) : this.#writes.run('update', write)));
    } catch (err) {
      throw this.#quotaError(err) ?? databaseError(err);
    }
  }

  /** One update in one statement, as it runs unbatched: waits for the row's lock, within the statement's bounds. */
  async #updateOne(write: Write): Promise<TaskRecord | undefined> {
    const { ownerId, id, changes, expectedVersion } = write as Extract<Write, { kind: 'update' }>;
    const fields = UPDATE_FIELDS.filter((f) => changes[f] !== undefined);
    const changesText = changes.title !== undefined || changes.description !== undefined;
    const build = () => {
      let query = this.#db
        .updateTable('task')
        // Concurrent updates of one row wait for each other's row lock, and PostgreSQL re-checks the
        // WHERE (the version) against the row the previous writer left: one of them wins.
        .set((eb) => ({
          ...Object.fromEntries(fields.map((f) => [UPDATE_COLUMN[f], slot(f)])),
          updated_at: sql<Date>`now()`,
          version: eb('version', '+', sql.lit(1)),
        }))
        .where('id', '=', slot('id'))
        .where('owner_id', '=', slot('owner'));
      // Text that grows counts against the owner's text quota (the trigger reads the limits).
      if (changesText) query = query.from(QUOTA_LIMITS);
      if (expectedVersion !== undefined) query = query.where('version', '=', slot('expectedVersion'));
      return query.returning(columns);
    };
    const key = `update:${fields.join(',')}:${expectedVersion === undefined ? 'any' : 'expected'}`;
    const values = { ...changes, id, owner: ownerId, expectedVersion, ...(changesText ? this.#limits : {}) };
    const [row] = await run(this.#db, key, build, values);
    return row;
  }

  /**
   * Updates that change no text (completed, priority, dueAt), of several users or one, in one
   * UPDATE ... FROM unnest: each row gets the fields its update sets (a flag per field says which),
   * a new updated_at and version + 1, as #updateOne would write it. The rows are locked first with
   * SKIP LOCKED: a row locked elsewhere (a transaction left open, a concurrent update of it) is left
   * out rather than waited for, and so is a row that does not match (missing, someone else's,
   * another version); each of those runs alone afterwards (ALONE), where it waits for its lock
   * within the statement's bounds and tells a missing row from a changed one as always. A second
   * update of a row already in the batch runs alone too: UPDATE ... FROM would apply only one.
   * No batch waits for a row lock, so batches never wait for each other.
   */
  async #updateMany(writes: Write[]): Promise<Array<TaskRecord | undefined | typeof ALONE>> {
    const updates = writes.map((w) => w as Extract<Write, { kind: 'update' }>);
    const seen = new Set<string>();
    const batched = updates.filter((u) => !seen.has(u.id) && seen.add(u.id));
    const build = () => ({
      compile: () =>
        sql<TaskRecord>`update task as t set
            completed = case when b.set_completed then b.completed else t.completed end,
            priority = case when b.set_priority then b.priority else t.priority end,
            due_at = case when b.set_due_at then b.due_at else t.due_at end,
            updated_at = now(), version = t.version + 1
          from (
            select b.* from unnest(${slot('id')}::uuid[], ${slot('owner')}::text[], ${slot('setCompleted')}::bool[], ${slot('completed')}::bool[],
                ${slot('setPriority')}::bool[], ${slot('priority')}::int2[], ${slot('setDueAt')}::bool[], ${slot('dueAt')}::timestamptz[],
                ${slot('expectedVersion')}::int4[])
              as b(id, owner, set_completed, completed, set_priority, priority, set_due_at, due_at, expected_version)
            join task as l on l.id = b.id and l.owner_id = b.owner and (b.expected_version is null or l.version = b.expected_version)
            order by l.id
            for no key update of l skip locked
          ) as b
          where t.id = b.id and t.owner_id = b.owner and (b.expected_version is null or t.version = b.expected_version)
          returning ${RETURNED}`.compile(this.#db),
    });
    const values = {
      id: batched.map((u) => u.id),
      owner: batched.map((u) => u.ownerId),
      setCompleted: batched.map((u) => u.changes.completed !== undefined),
      completed: batched.map((u) => u.changes.completed ?? null),
      setPriority: batched.map((u) => u.changes.priority !== undefined),
      priority: batched.map((u) => u.changes.priority ?? null),
      setDueAt: batched.map((u) => u.changes.dueAt !== undefined),
      dueAt: batched.map((u) => u.changes.dueAt ?? null),
      expectedVersion: batched.map((u) => u.expectedVersion ?? null),
    };
    const rows = new Map((await run(this.#db, 'update:batch', build, values)).map((row) => [row.id, row]));
    const inBatch = new Set(batched);
    return updates.map((u) => {
      // Left out (a second update of the row), locked elsewhere, or not matched: alone.
      const row = inBatch.has(u) ? rows.get(u.id) : undefined;
      if (!row) return ALONE;
      // Each row is its owner's by construction (the owner is in the join); anything else would be a bug.
      if (row.ownerId !== u.ownerId) throw new Error('a batched update returned the row of another owner');
      return row;
    });
  }

  /** Deletes the owner's task (at `expectedVersion` when given); false when no row matched. */
  async delete(ownerId: string, id: string, expectedVersion?: number): Promise<boolean> {
    const build = () => {
      let query = this.#db.deleteFrom('task').where('id', '=', slot('id')).where('owner_id', '=', slot('owner'));
      if (expectedVersion !== undefined) query = query.where('version', '=', slot('expectedVersion'));
      return query.returning('id');
    };
    const key = `delete:${expectedVersion === undefined ? 'any' : 'expected'}`;
    const rows = await this.#for(ownerId, () => run(this.#db, key, build, { id, owner: ownerId, expectedVersion }));
    return rows.length > 0;
  }
}
