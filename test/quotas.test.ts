import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { parseConfig } from '../src/config.ts';
import { codes, execute, expectData, type GraphQLResult } from './support/graphql.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Issue 21 item 3 and issue 19 item 5: what one user may store is bounded, in tasks
 * (MAX_TASKS_PER_USER) and in bytes of text (MAX_TASK_TEXT_BYTES_PER_USER). A write past either is
 * refused with QUOTA_EXCEEDED and stores nothing, exactly, however many arrive at once; writes
 * made outside the server (psql) are counted too.
 */

const MAX_TASKS = 30;
const MAX_TEXT = 50_000;

let server: TestServer;
let db: pg.Pool;

beforeAll(async () => {
  server = await startServer({ MAX_TASKS_PER_USER: String(MAX_TASKS), MAX_TASK_TEXT_BYTES_PER_USER: String(MAX_TEXT) });
  db = new pg.Pool({ connectionString: server.database.url, max: 2 });
});
afterAll(async () => {
  await db.end();
  await server.stop();
});

const CREATE = 'mutation ($input: CreateTaskInput!) { createTask(input: $input) { id title description } }';
const UPDATE = 'mutation ($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id version description } }';
const COUNT = '{ tasks(first: 1) { totalCount } }';

const create = (user: TestUser, title: string, description?: string) =>
  execute<{ createTask: { id: string } }, { input: Record<string, string> }>(
    server.graphqlUrl,
    CREATE,
    { input: { title, ...(description === undefined ? {} : { description }) } },
    user.token,
  );

/** What the server stored for the user, counted from the table, and what the counter says. */
async function stored(user: TestUser): Promise<{ tasks: number; bytes: number; counted: { tasks: number; bytes: number } | undefined }> {
  const actual = await db.query<{ tasks: string; bytes: string | null }>(
    `select count(*) as tasks, sum(octet_length(title) + coalesce(octet_length(description), 0)) as bytes from task where owner_id = $1`,
    [user.id],
  );
  const counter = await db.query<{ tasks: number; text_bytes: string }>(`select tasks, text_bytes from task_usage where owner_id = $1`, [user.id]);
  const row = counter.rows[0];
  return {
    tasks: Number(actual.rows[0]?.tasks),
    bytes: Number(actual.rows[0]?.bytes ?? 0),
    counted: row ? { tasks: row.tasks, bytes: Number(row.text_bytes) } : undefined,
  };
}

const refusedFor = (result: GraphQLResult<unknown>, setting: string, limit: number) => {
  expect(result.status).toBe(200);
  expect(result.errors).toEqual([
    expect.objectContaining({ message: expect.stringContaining(String(limit)), extensions: { code: 'QUOTA_EXCEEDED', limit, setting } }),
  ]);
};

describe('defaults', () => {
  it('are 10,000 tasks and 10 MiB of text per user', () => {
    expect(parseConfig({ BETTER_AUTH_SECRET: 'x'.repeat(40) }).quotas).toEqual({
      maxTasksPerUser: 10_000,
      maxTaskTextBytesPerUser: 10 * 1024 * 1024,
    });
  });
});

describe('MAX_TASKS_PER_USER', () => {
  it('of 20 creates sent at once 5 below the quota, exactly 5 are stored; the rest are refused with QUOTA_EXCEEDED', async () => {
    const user = await signUp(server.url);
    // 25 tasks written outside the server, as psql would: counted all the same.
    await db.query(
      `insert into task (id, owner_id, title, created_at, updated_at) select gen_random_uuid(), $1, 'seeded ' || g, now(), now() from generate_series(1, 25) g`,
      [user.id],
    );
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => create(user, `concurrent ${i}`)));
    const created = results.filter((r) => r.data?.createTask);
    const refused = results.filter((r) => codes(r)[0] === 'QUOTA_EXCEEDED');
    expect(created).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const r of refused) refusedFor(r, 'MAX_TASKS_PER_USER', MAX_TASKS);
    expect(await stored(user)).toMatchObject({ tasks: MAX_TASKS, counted: { tasks: MAX_TASKS } });
    expect((await expectData<{ tasks: { totalCount: number } }>(server.graphqlUrl, COUNT, undefined, user.token)).tasks.totalCount).toBe(MAX_TASKS);

    // Another user is not affected; a delete makes room for exactly one more.
    const other = await signUp(server.url);
    expect((await create(other, 'mine')).errors).toBeUndefined();
    await expectData(server.graphqlUrl, 'mutation ($id: ID!) { deleteTask(id: $id) }', { id: created[0]!.data!.createTask.id }, user.token);
    expect((await create(user, 'room again')).errors).toBeUndefined();
    refusedFor(await create(user, 'one too many'), 'MAX_TASKS_PER_USER', MAX_TASKS);
  });

  it('keeps the count right through deletes made outside the server, and drops it with the user', async () => {
    const user = await signUp(server.url);
    for (let i = 0; i < 3; i++) expect((await create(user, `t${i}`, 'd'.repeat(10))).errors).toBeUndefined();
    await db.query(`delete from task where owner_id = $1 and title = 't0'`, [user.id]);
    await db.query(`update task set description = 'longer than before' where owner_id = $1 and title = 't1'`, [user.id]);
    const now = await stored(user);
    expect(now.counted).toEqual({ tasks: now.tasks, bytes: now.bytes });
    expect(now.tasks).toBe(2);
    await db.query(`delete from "user" where id = $1`, [user.id]);
    expect((await stored(user)).counted).toBeUndefined();
  });
});

describe('MAX_TASK_TEXT_BYTES_PER_USER', () => {
  it('counts bytes of titles and descriptions, refuses a create past it and stores nothing', async () => {
    const user = await signUp(server.url);
    // 'é' is two bytes in UTF-8: 10,000 characters are 20,000 bytes.
    const long = 'é'.repeat(10_000);
    expect((await create(user, 'a', long)).errors).toBeUndefined();
    expect((await create(user, 'b', long)).errors).toBeUndefined();
    refusedFor(await create(user, 'c', long), 'MAX_TASK_TEXT_BYTES_PER_USER', MAX_TEXT);
    expect(await stored(user)).toEqual({ tasks: 2, bytes: 40_002, counted: { tasks: 2, bytes: 40_002 } });
    // What is left still fits.
    expect((await create(user, 'd', 'x'.repeat(MAX_TEXT - 40_002 - 1))).errors).toBeUndefined();
    expect((await stored(user)).bytes).toBe(MAX_TEXT);
  });

  it('refuses an update that grows the text past it (the task unchanged), and takes one that shrinks it', async () => {
    const user = await signUp(server.url);
    const { createTask } = await expectData<{ createTask: { id: string } }, { input: Record<string, string> }>(
      server.graphqlUrl,
      CREATE,
      { input: { title: 'grows', description: 'x'.repeat(9_000) } },
      user.token,
    );
    // 9,005 + 4 x 10,008 = 49,037 bytes: 1,000 more would pass 50,000.
    for (let i = 0; i < 4; i++) expect((await create(user, `filler ${i}`, 'y'.repeat(10_000))).errors).toBeUndefined();
    const grow = await execute(server.graphqlUrl, UPDATE, { id: createTask.id, input: { description: 'x'.repeat(10_000) } }, user.token);
    expect(grow.errors).toEqual([
      expect.objectContaining({ extensions: { code: 'QUOTA_EXCEEDED', limit: MAX_TEXT, setting: 'MAX_TASK_TEXT_BYTES_PER_USER' } }),
    ]);
    const read = await expectData<{ task: { version: number; description: string } }, { id: string }>(
      server.graphqlUrl,
      'query ($id: ID!) { task(id: $id) { version description } }',
      { id: createTask.id },
      user.token,
    );
    expect(read.task).toEqual({ version: 1, description: 'x'.repeat(9_000) });
    // Completing a task does not touch its text; shrinking it frees room.
    expect((await execute(server.graphqlUrl, UPDATE, { id: createTask.id, input: { completed: true } }, user.token)).errors).toBeUndefined();
    expect((await execute(server.graphqlUrl, UPDATE, { id: createTask.id, input: { description: 'short' } }, user.token)).errors).toBeUndefined();
    const now = await stored(user);
    expect(now.counted).toEqual({ tasks: 5, bytes: now.bytes });
  });

  it('is exact when creates race: of 10 sent at once with room for 5, 5 are stored', async () => {
    const user = await signUp(server.url);
    // 9,000 + 1 bytes each: five take 45,005 of 50,000, a sixth would pass it.
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => create(user, String(i), 'z'.repeat(9_000))));
    expect(results.filter((r) => r.data?.createTask)).toHaveLength(5);
    expect(results.filter((r) => codes(r)[0] === 'QUOTA_EXCEEDED')).toHaveLength(5);
    expect(await stored(user)).toEqual({ tasks: 5, bytes: 45_005, counted: { tasks: 5, bytes: 45_005 } });
  });

  it('holds against the storage attack: requests of 30 aliased creates of 10,000 characters each', async () => {
    // Issue 19's attack 5 stored 98 MB in 30 s. Here each request carries 300,000 characters.
    const attacker = await signUp(server.url);
    const bystander = await signUp(server.url);
    const description = 'A'.repeat(10_000);
    const aliased = `mutation ($d: String!) { ${Array.from({ length: 30 }, (_, i) => `a${i}: createTask(input: { title: "x", description: $d }) { id }`).join(' ')} }`;
    for (let round = 0; round < 3; round++) {
      const [attack, other] = await Promise.all([
        execute<Record<string, { id: string } | null>, { d: string }>(server.graphqlUrl, aliased, { d: description }, attacker.token),
        create(bystander, `bystander ${round}`),
      ]);
      expect(other.errors).toBeUndefined();
      expect(attack.status).toBe(200);
      // createTask is non-null: the first refused alias nulls the response and ends the mutation
      // (mutations run one after another); what ran before it is stored.
      expect(attack.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'QUOTA_EXCEEDED', limit: MAX_TEXT, setting: 'MAX_TASK_TEXT_BYTES_PER_USER' } }),
      ]);
    }
    const after = await stored(attacker);
    expect(after.bytes).toBeLessThanOrEqual(MAX_TEXT);
    expect(after).toEqual({ tasks: 4, bytes: 40_004, counted: { tasks: 4, bytes: 40_004 } });
  });
});
