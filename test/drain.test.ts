import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { print } from 'graphql';
import pg from 'pg';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { expectData } from './support/graphql.ts';
import { runServer, type ServerProcess } from './support/process.ts';
import { signUp } from './support/users.ts';

/**
 * SIGTERM, as an orchestrator sends it before replacing a server: requests already running finish
 * and get their answer; new connections are refused at once.
 */

let database: TestDatabase;
let proc: ServerProcess;
// On 127.0.0.1 rather than `localhost`: "refused" must not depend on which address resolves first.
let url: string;
beforeAll(async () => {
  database = await createTestDatabase();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  proc = runServer({
    PORT: String(port),
    DATABASE_URL: database.url,
    BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
    BETTER_AUTH_URL: url,
  });
  await proc.ready;
});
afterAll(async () => {
  if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await database.drop();
});

/** Polls `check` every 50 ms until it returns true; fails naming `what` after `withinMs`. */
async function until(what: string, check: () => Promise<boolean>, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${withinMs} ms: ${what}\nserver output:\n${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether a new TCP connection to the server is refused (a fresh socket, never a pooled one). */
const refused = () =>
  new Promise<boolean>((resolve) => {
    http
      .get(`${url}/healthz`, { agent: false }, (res) => {
        res.resume();
        resolve(false);
      })
      .on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });

describe('SIGTERM', () => {
  it('finishes a request in flight with 200, refuses new connections, then exits 0', async () => {
    const user = await signUp(url);
    const { createTask } = await expectData(`${url}/graphql`, CreateTaskDocument, { input: { title: 'before' } }, user.token);

    // Hold the task's row lock from another connection, so that the update waits inside the server.
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select id from task where id = $1 for update', [createTask.id]);
      const inFlight = fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ query: print(UpdateTaskDocument), variables: { id: createTask.id, input: { title: 'after' } } }),
      });
      await until('the update waits for the row lock', async () => {
        const { rows } = await locker.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        return rows[0]!.n > 0;
      });

      proc.child.kill('SIGTERM');
      await until('new connections are refused', () => refused());
      expect(proc.child.exitCode).toBeNull(); // still draining: the update has not finished

      await locker.query('rollback');
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: { updateTask: expect.objectContaining({ id: createTask.id, title: 'after' }) } });
    } finally {
      await locker.end();
    }
    expect(await proc.exited).toBe(0);
    expect(await refused()).toBe(true);
  });
});
