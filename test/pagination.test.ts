import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { TasksDocument, type CreateTaskInput, type TaskFilter, type TaskOrder, type TaskPriority, type TasksQuery } from './generated/graphql.ts';
import { freePort } from '../src/db/embedded.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { eventually } from './support/poll.ts';
import { parseSamples, valueOf, type Sample } from './support/prometheus.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Cursor pagination of `Query.tasks`, as a client sees it: walk every page of a list by passing
 * `pageInfo.endCursor` back as `after`, and get every task exactly once, in the documented order.
 */

// ---------------------------------------------------------------------------------------------
// The data: 250 tasks with many ties, so that every order needs its id tie-breaker.
// ---------------------------------------------------------------------------------------------

const TASK_COUNT = 250;
/** Not a divisor of 250: the last page is a short one (250 = 35 × 7 + 5). */
const PAGE_SIZE = 7;
const ORDERS: TaskOrder[] = ['CREATED_AT_DESC', 'CREATED_AT_ASC', 'DUE_AT_ASC', 'PRIORITY_DESC'];
const PRIORITIES: TaskPriority[] = ['LOW', 'MEDIUM', 'HIGH'];
/** Only ten distinct due dates for 250 tasks. */
const DUE_DATES = Array.from({ length: 10 }, (_, d) => `2030-01-${String(d + 1).padStart(2, '0')}T09:00:00.000Z`);

/** The `i`-th seeded task: priorities cycle, a quarter have no due date, every fifth is done. */
function seedInput(i: number): CreateTaskInput {
  return {
    title: `Task ${i}`,
    priority: PRIORITIES[i % 3]!,
    dueAt: i % 4 === 0 ? null : DUE_DATES[(i * 7) % DUE_DATES.length]!,
  };
}
const isCompleted = (i: number): boolean => i % 5 === 0;

/** The fields a client needs to check an order, as the API returns them. */
interface Row {
  id: string;
  priority: TaskPriority;
  dueAt: string | null;
  createdAt: string;
  completed: boolean;
}
const ROW_FIELDS = 'id priority dueAt createdAt completed';

function row({ id, priority, dueAt, createdAt, completed }: Row): Row {
  return { id, priority, dueAt, createdAt, completed };
}

// ---------------------------------------------------------------------------------------------
// The documented orders, computed independently of the server. Ids are lowercase UUIDv7 strings
// and compare as strings; ties are broken by id in the direction of the order.
// ---------------------------------------------------------------------------------------------

const RANK: Record<TaskPriority, number> = { LOW: 0, MEDIUM: 1, HIGH: 2 };
const time = (iso: string): number => Date.parse(iso);
const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const COMPARE: Record<TaskOrder, (a: Row, b: Row) => number> = {
  /** createdAt desc, id desc. */
  CREATED_AT_DESC: (a, b) => time(b.createdAt) - time(a.createdAt) || byId(b.id, a.id),
  /** createdAt asc, id asc. */
  CREATED_AT_ASC: (a, b) => time(a.createdAt) - time(b.createdAt) || byId(a.id, b.id),
  /** dueAt asc with tasks without a due date last, id asc. */
  DUE_AT_ASC: (a, b) => {
    if (a.dueAt !== b.dueAt && (a.dueAt === null || b.dueAt === null)) return a.dueAt === null ? 1 : -1;
    return (a.dueAt === null || b.dueAt === null ? 0 : time(a.dueAt) - time(b.dueAt)) || byId(a.id, b.id);
  },
  /** HIGH > MEDIUM > LOW, then createdAt desc, id desc. */
  PRIORITY_DESC: (a, b) => RANK[b.priority] - RANK[a.priority] || time(b.createdAt) - time(a.createdAt) || byId(b.id, a.id),
};

function sorted(rows: Row[], order: TaskOrder): Row[] {
  return [...rows].sort(COMPARE[order]);
}

// ---------------------------------------------------------------------------------------------
// Client helpers.
// ---------------------------------------------------------------------------------------------

type Page = TasksQuery['tasks'];

/**
 * Creates tasks with operations of 25 aliased `createTask` fields each (aliased mutations run in
 * order), all operations sent at once: they interleave on the server, so many tasks share a
 * createdAt millisecond and the created-at orders need their id tie-breaker too.
 */
async function createTasks(token: string, inputs: CreateTaskInput[]): Promise<Row[]> {
  const batches = Array.from({ length: Math.ceil(inputs.length / 25) }, (_, b) => inputs.slice(b * 25, b * 25 + 25));
  const created = await Promise.all(
    batches.map(async (batch) => {
      const operation = `mutation Seed(${batch.map((_, i) => `$t${i}: CreateTaskInput!`).join(', ')}) {
        ${batch.map((_, i) => `t${i}: createTask(input: $t${i}) { ${ROW_FIELDS} }`).join('\n        ')}
      }`;
      const variables = Object.fromEntries(batch.map((input, i) => [`t${i}`, input]));
      const data = await expectData<Record<string, Row>, Record<string, CreateTaskInput>>(server.graphqlUrl, operation, variables, token);
      return batch.map((_, i) => row(data[`t${i}`]!));
    }),
  );
  return created.flat();
}

/** Marks tasks done with operations of 25 aliased `updateTask` fields (GRAPHQL_MAX_ALIASES is 30). */
async function completeTasks(token: string, ids: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (let b = 0; b < ids.length; b += 25) {
    const batch = ids.slice(b, b + 25);
    const operation = `mutation Complete {
    ${batch.map((id, i) => `u${i}: updateTask(id: "${id}", input: { completed: true }) { ${ROW_FIELDS} }`).join('\n    ')}
  }`;
    const data = await expectData<Record<string, Row>>(server.graphqlUrl, operation, {}, token);
    rows.push(...batch.map((_, i) => row(data[`u${i}`]!)));
  }
  return rows;
}

/** Walks a whole list page by page, following `pageInfo.endCursor` until `hasNextPage` is false. */
async function walk(token: string, orderBy: TaskOrder, filter?: TaskFilter): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  do {
    const { tasks }: TasksQuery = await expectData(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE, after, filter, orderBy }, token);
    pages.push(tasks);
    after = tasks.pageInfo.hasNextPage ? tasks.pageInfo.endCursor : null;
    // A list that never ends is a failure, not a hung test.
    if (pages.length > TASK_COUNT) throw new Error(`${orderBy}: still paging after ${pages.length} pages`);
  } while (after !== null);
  return pages;
}

/** What every page of a walk must satisfy, whatever the order or filter. */
function expectWellFormedPages(pages: Page[], expectedCount: number): void {
  expect(pages).toHaveLength(Math.max(1, Math.ceil(expectedCount / PAGE_SIZE)));
  pages.forEach((page, n) => {
    const isLast = n === pages.length - 1;
    expect(page.totalCount).toBe(expectedCount);
    expect(page.nodes).toHaveLength(isLast ? expectedCount - n * PAGE_SIZE : PAGE_SIZE);
    // Only the first page has nothing before it; only the last has nothing after it.
    expect(page.pageInfo.hasPreviousPage).toBe(n > 0);
    expect(page.pageInfo.hasNextPage).toBe(!isLast);
    // edges and nodes are the same tasks; the page's cursors are its first and last edge's.
    expect(page.edges.map((e) => e.node.id)).toEqual(page.nodes.map((t) => t.id));
    expect(page.pageInfo.startCursor).toBe(page.edges[0]?.cursor ?? null);
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
  });
}

const rowsOf = (pages: Page[]): Row[] => pages.flatMap((page) => page.nodes.map(row));
const ids = (rows: Row[]): string[] => rows.map((r) => r.id);

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

let server: TestServer;
let metricsUrl: string;
let owner: TestUser;
/** Every seeded task as the mutations returned it (after the completions). */
let seeded: Row[];

beforeAll(async () => {
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  // One page query in flight at a time (the default is 2): pages that arrive meanwhile wait, and
  // those of one shape are read together (see "pages asked for all at once").
  // A long statement bound: "pages asked for all at once" holds page reads on a table lock.
  server = await startServer({ METRICS_PORT: String(metricsPort), DB_PAGE_CONCURRENCY: '1', DB_STATEMENT_TIMEOUT_MS: '60000' });
  owner = await signUp(server.url);
  const created = await createTasks(
    owner.token,
    Array.from({ length: TASK_COUNT }, (_, i) => seedInput(i)),
  );
  const done = await completeTasks(
    owner.token,
    created.filter((_, i) => isCompleted(i)).map((t) => t.id),
  );
  const doneById = new Map(done.map((t) => [t.id, t]));
  seeded = created.map((t) => doneById.get(t.id) ?? t);
  // Tasks created within one millisecond share createdAt only by chance; put them in groups of
  // five with the same instant, so that every order's id tie-breaker is exercised on every run.
  const createdAt = await tieCreationTimes(server);
  seeded = seeded.map((t) => ({ ...t, createdAt: createdAt.get(t.id)! }));
});

async function tieCreationTimes(s: TestServer): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: s.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; created_at: Date }>(`
      with ranked as (select id, row_number() over (order by created_at, id) as n from task)
      update task set created_at = timestamptz '2026-01-01T00:00:00Z' + ((ranked.n - 1) / 5) * interval '1 second'
      from ranked where ranked.id = task.id
      returning task.id, task.created_at`);
    return new Map(rows.map((r) => [r.id, r.created_at.toISOString()]));
  } finally {
    await client.end();
  }
}
afterAll(() => server.stop());

describe('seeded data', () => {
  it('has 250 distinct tasks with ties in priority and due date, some without a due date, some done', () => {
    expect(new Set(ids(seeded)).size).toBe(TASK_COUNT);
    expect(seeded.every((t) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(t.id))).toBe(true);
    expect(new Set(seeded.map((t) => t.dueAt))).toEqual(new Set([null, ...DUE_DATES]));
    expect(seeded.filter((t) => t.dueAt === null).length).toBeGreaterThan(50);
    expect(seeded.filter((t) => t.completed)).toHaveLength(TASK_COUNT / 5);
    expect(new Set(seeded.map((t) => t.createdAt)).size).toBe(TASK_COUNT / 5);
  });
});

describe.each(ORDERS)('paging through all tasks in %s order, 7 at a time', (order) => {
  let pages: Page[];
  beforeAll(async () => {
    pages = await walk(owner.token, order);
  });

  it('gives 36 pages with consistent pageInfo and totalCount 250 on each', () => {
    expectWellFormedPages(pages, TASK_COUNT);
  });

  it('returns every task exactly once: no duplicates, none missing', () => {
    const walked = ids(rowsOf(pages));
    expect(walked).toHaveLength(TASK_COUNT);
    expect(new Set(walked).size).toBe(TASK_COUNT);
    expect(new Set(walked)).toEqual(new Set(ids(seeded)));
  });

  it('returns the tasks in exactly the documented order, ties broken by id', () => {
    const walked = rowsOf(pages);
    // Each task comes strictly after the one before it (a total order, so never a tie)...
    const outOfOrder = walked.slice(1).filter((t, i) => COMPARE[order](walked[i]!, t) >= 0);
    expect(outOfOrder).toEqual([]);
    // ...and the whole list is the seeded tasks sorted independently, field for field.
    expect(walked).toEqual(sorted(seeded, order));
  });
});

describe('paging through a filtered list', () => {
  const cases: Array<{ name: string; order: TaskOrder; filter: TaskFilter; keep: (t: Row) => boolean }> = [
    { name: 'priority HIGH', order: 'CREATED_AT_ASC', filter: { priority: 'HIGH' }, keep: (t) => t.priority === 'HIGH' },
    {
      name: 'open tasks due before the 5th',
      order: 'DUE_AT_ASC',
      filter: { completed: false, dueBefore: DUE_DATES[4] },
      keep: (t) => !t.completed && t.dueAt !== null && time(t.dueAt) < time(DUE_DATES[4]!),
    },
    {
      name: 'done tasks due after the 3rd',
      order: 'PRIORITY_DESC',
      filter: { completed: true, dueAfter: DUE_DATES[2] },
      keep: (t) => t.completed && t.dueAt !== null && time(t.dueAt) > time(DUE_DATES[2]!),
    },
  ];

  it.each(cases)('$name, in $order order: every page honours the filter, the union is the filtered set', async ({ order, filter, keep }) => {
    const expected = sorted(seeded.filter(keep), order);
    expect(expected.length).toBeGreaterThan(PAGE_SIZE); // several pages

    const pages = await walk(owner.token, order, filter);

    expectWellFormedPages(pages, expected.length);
    for (const page of pages) expect(page.nodes.map(row).filter((t) => !keep(t))).toEqual([]);
    expect(rowsOf(pages)).toEqual(expected);
  });
});

describe("another user's view", () => {
  it.each(ORDERS)('a new user has no tasks in %s order', async (orderBy) => {
    const stranger = await signUp(server.url);
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE, orderBy }, stranger.token);
    expect(tasks).toEqual({
      totalCount: 0,
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
      edges: [],
      nodes: [],
    });
  });

  it("learns nothing from the owner's cursor", async () => {
    const stranger = await signUp(server.url);
    const ownersPage = await expectData(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE }, owner.token);
    const after = ownersPage.tasks.pageInfo.endCursor;
    const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE, after }, stranger.token);
    expect(tasks.totalCount).toBe(0);
    expect(tasks.nodes).toEqual([]);
  });
});

describe('cursors the list refuses with BAD_USER_INPUT', () => {
  /** The end cursor of the owner's first page in each order. */
  const cursors = new Map<TaskOrder, string>();
  beforeAll(async () => {
    for (const orderBy of ORDERS) {
      const { tasks } = await expectData(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE, orderBy }, owner.token);
      cursors.set(orderBy, tasks.pageInfo.endCursor!);
    }
  });

  const mismatched = ORDERS.flatMap((from) => ORDERS.filter((to) => to !== from).map((to) => [from, to] as const));
  it.each(mismatched)('a %s cursor used in %s order', async (from, orderBy) => {
    const result = await execute(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE, after: cursors.get(from)!, orderBy }, owner.token);
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.data?.tasks).toBeFalsy();
  });

  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    ['not base64 JSON', 'garbage!'],
    ['empty', ''],
    ['JSON that is not a cursor', encode({ order: 'CREATED_AT_DESC' })],
    ['a cursor with a bad id', encode(['CREATED_AT_DESC', '2030-01-01T09:00:00.000Z', 'not-a-uuid'])],
    ['a cursor with a bad date', encode(['CREATED_AT_DESC', 'yesterday', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'])],
  ])('a garbage cursor: %s', async (_name, after) => {
    const result = await execute(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE, after, orderBy: 'CREATED_AT_DESC' }, owner.token);
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.data?.tasks).toBeFalsy();
  });
});

/** The server's page queries so far: how many, how many pages they read, how many read more than one. */
/** Page reads waiting for a turn in the server now (its db_pages_waiting gauge). */
async function pagesWaiting(): Promise<number> {
  return valueOf(parseSamples(await (await fetch(metricsUrl)).text()), 'db_pages_waiting') ?? 0;
}

/** Statements of the server waiting on a lock, as PostgreSQL sees them (`client`'s own excluded). */
async function waitingStatements(client: pg.Client): Promise<number> {
  await client.query('select pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()",
  );
  return rows[0]?.n ?? 0;
}

async function pageQueries(): Promise<{ queries: number; pages: number; batched: number }> {
  const samples: Sample[] = parseSamples(await (await fetch(metricsUrl)).text());
  const queries = valueOf(samples, 'db_page_batch_size_count') ?? 0;
  return {
    queries,
    pages: valueOf(samples, 'db_page_batch_size_sum') ?? 0,
    batched: queries - (valueOf(samples, 'db_page_batch_size_bucket', { le: '1' }) ?? 0),
  };
}

describe('pages asked for all at once', () => {
  // Under load the server reads the pages of one shape that many requests ask for in one query
  // (TaskRepository.page): each request must still get exactly its own page, as if it were alone.
  it("are the pages asked for one at a time, in every order, filter and cursor, beside another user's", async () => {
    const other = await signUp(server.url);
    await createTasks(
      other.token,
      Array.from({ length: 30 }, (_, i) => seedInput(i)),
    );
    const filters: Array<TaskFilter | undefined> = [
      undefined,
      { priority: 'HIGH' },
      { completed: false, dueBefore: DUE_DATES[4] },
      { completed: true, dueAfter: DUE_DATES[2] },
    ];
    // Every page of every walk, asked for one at a time: what each request must get.
    const requests: Array<{ token: string; variables: Record<string, unknown>; expected: Page }> = [];
    for (const user of [owner, other]) {
      for (const orderBy of ORDERS) {
        for (const filter of filters) {
          let after: string | null = null;
          for (const page of await walk(user.token, orderBy, filter)) {
            requests.push({ token: user.token, variables: { first: PAGE_SIZE, after, filter, orderBy }, expected: page });
            after = page.pageInfo.endCursor;
          }
        }
      }
    }
    expect(requests.length).toBeGreaterThan(200);

    // Batching, made to happen: while a lock holds the one page query in flight, the same page of
    // two other users waits for a turn (db_pages_waiting says so), and then they are read together.
    const third = await signUp(server.url);
    const locker = new pg.Client({ connectionString: server.database.url });
    await locker.connect();
    const start = await pageQueries();
    let held: Array<Promise<unknown>>;
    try {
      await locker.query('begin');
      await locker.query('lock table task in access exclusive mode');
      const first = expectData(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE }, owner.token);
      await eventually(async () => ((await waitingStatements(locker)) > 0 ? true : undefined), undefined, 'the first page to wait on the lock');
      held = [first, ...[other, third].map((u) => expectData(server.graphqlUrl, TasksDocument, { first: PAGE_SIZE }, u.token))];
      await eventually(async () => ((await pagesWaiting()) === 2 ? true : undefined), undefined, 'two pages waiting for a turn');
    } finally {
      await locker.query('commit').catch(() => {});
      await locker.end();
    }
    await Promise.all(held);
    const together = await pageQueries();
    // Three pages: the one that waited on the lock alone, then the two that waited, in one query.
    expect({ queries: together.queries - start.queries, pages: together.pages - start.pages, batched: together.batched - start.batched }).toEqual({
      queries: 2,
      pages: 3,
      batched: 1,
    });

    // The same requests, all at once, the two users' interleaved: each gets exactly its own page,
    // however the server groups them, and every page is read once.
    const order = requests.map((_, i) => i).sort((a, b) => (a % 7) - (b % 7) || a - b);
    const before = await pageQueries();
    const results = await Promise.all(order.map((i) => expectData(server.graphqlUrl, TasksDocument, requests[i]!.variables, requests[i]!.token)));
    const after = await pageQueries();
    expect(after.pages - before.pages).toBe(requests.length);
    const mismatches = results.flatMap((result, k) => {
      const { variables, expected } = requests[order[k]!]!;
      return JSON.stringify(result.tasks) === JSON.stringify(expected)
        ? []
        : [{ variables, got: ids(rowsOf([result.tasks])), expected: ids(rowsOf([expected])) }];
    });
    expect(mismatches).toEqual([]);
  });
});
