import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, TaskDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { startDbGate } from './support/db-gate.ts';
import { expectData, execute } from './support/graphql.ts';
import { EMBEDDED_CLUSTER_TEST_MS, runServer, tempDataDir, type ServerProcess } from './support/process.ts';
import { signIn, signUp } from './support/users.ts';
import { waitsOnLock } from './support/locks.ts';
import { until } from './support/poll.ts';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A server process on `database`, production-like (JSON logs), killed at the end if still running. */
async function serverOn(databaseUrl: string, env: Record<string, string> = {}): Promise<{ server: ServerProcess; url: string }> {
  const port = await freePort();
  const server = runServer({
    NODE_ENV: 'production',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
    BETTER_AUTH_URL: `http://localhost:${port}`,
    ...env,
  });
  cleanups.push(() => server.child.kill('SIGKILL'));
  return { server, url: `http://localhost:${port}` };
}

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  return database;
}

describe('starting without a database', () => {
  it('listens at once, answers 503 until the database appears, then becomes ready on its own', async () => {
    const database = await freshDatabase();
    const gate = await startDbGate(database.url, { open: false });
    cleanups.push(() => gate.close());
    const { server, url } = await serverOn(gate.url);
    await server.listening;

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    const graphql = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ serverVersion }' }),
    });
    expect(graphql.status).toBe(503);
    expect(Number(graphql.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await graphql.json()).toEqual({
      errors: [{ message: expect.any(String), extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }) }],
    });
    const auth = await fetch(`${url}/api/auth/get-session`);
    expect(auth.status).toBe(503);
    expect(auth.headers.get('retry-after')).not.toBeNull();

    // Whoever waits for the address sees it, marked as not ready.
    await until('the address is announced as not ready', () =>
      /GraphQL API: http:\/\/\S+\/graphql \(not ready: waiting for the database/.test(server.output()),
    );
    // It stays so while the database is down (several retries meanwhile, logged as a few lines).
    for (let i = 0; i < 30; i++) {
      const statuses = await Promise.all([`${url}/readyz`, `${url}/api/auth/get-session`].map(async (u) => (await fetch(u)).status));
      expect(statuses).toEqual([503, 503]);
    }
    gate.open();
    await until('ready after the database appeared', async () => (await fetch(`${url}/readyz`)).status === 200);
    await server.ready;

    const user = await signUp(url);
    const { createTask } = await expectData(`${url}/graphql`, CreateTaskDocument, { input: { title: 'after the outage' } }, user.token);
    expect(createTask.title).toBe('after the outage');

    const lines = server.output().split('\n').filter(Boolean);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    interface Retry {
      msg: string;
      attempts: number;
      waitingMs: number;
      err: { message: string; code?: string };
    }
    const retries = lines.map((l) => JSON.parse(l) as Retry).filter((l) => l.msg.startsWith('cannot start yet'));
    expect(retries[0]).toMatchObject({ attempts: 1, err: expect.objectContaining({ message: expect.any(String) }) });
    // A few lines, not one per retry: a line repeats the same failure only after 10 s of retrying
    // (as the server counts time: how long the outage lasted here is the machine's to say).
    retries.slice(1).forEach((line, i) => {
      const previous = retries[i]!;
      const cause = (r: Retry) => r.err.code ?? r.err.message;
      if (cause(line) === cause(previous)) expect(line.waitingMs - previous.waitingMs).toBeGreaterThanOrEqual(10_000);
    });
    const reachable = lines.map((l) => JSON.parse(l) as Retry).find((l) => l.msg === 'database reachable: ready');
    expect(reachable?.attempts).toBeGreaterThanOrEqual(retries.length);
    // Some 30 probes answered 503 while starting: said once at INFO, none of them logged as an error.
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; req?: { url?: string } });
    expect(parsed.filter((l) => l.msg.startsWith('not ready yet: starting'))).toEqual([expect.objectContaining({ level: 30 })]);
    expect(parsed.filter((l) => l.req?.url === '/readyz' && l.level >= 40)).toEqual([]);

    // SIGTERM with an idle keep-alive connection open (fetch keeps them): no waiting for it. (Waiting
    // would end at the shutdown deadline, which is logged, or past it with exit 1.)
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).not.toContain('shutdown deadline reached');
  });
});

describe('SIGTERM with a write stuck on a lock', () => {
  it('exits within SHUTDOWN_TIMEOUT_MS and the write, never answered, is rolled back', async () => {
    const database = await freshDatabase();
    const { server, url } = await serverOn(database.url, { SHUTDOWN_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '600000' });
    await server.ready;
    const user = await signUp(url);
    const graphqlUrl = `${url}/graphql`;
    const { createTask } = await expectData(graphqlUrl, CreateTaskDocument, { input: { title: 'original' } }, user.token);

    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('begin');
    await locker.query('select 1 from task where id = $1 for update', [createTask.id]);

    const update = execute(graphqlUrl, UpdateTaskDocument, { id: createTask.id, input: { title: 'changed during shutdown' } }, user.token).then(
      (result) => ({ answered: true, result }),
      (err: unknown) => ({ answered: false, err }),
    );
    await waitsOnLock(locker, 'the update to wait on the lock');

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    // Exit 0: stop() finished (past SHUTDOWN_TIMEOUT_MS + 5 s the process would exit 1 instead),
    // having waited out the deadline (not before it) and cancelled the write.
    expect(await server.exited).toBe(0);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1000);
    expect(server.output()).toContain('shutdown deadline reached: cancelling requests still in flight');

    // The client got no success: either the connection was cut or an error came back.
    const outcome = await update;
    if (outcome.answered) expect((outcome as { result: { data: unknown } }).result.data).toBeNull();

    // No backend of the server is left waiting: PostgreSQL does not notice a vanished client while
    // a statement waits on a lock, so only a cancel stops it from running on once the lock goes.
    // (Terminated backends take a moment to go; a write merely cut off would wait forever.)
    await until('no backend of the server to be left', async () => {
      // Inside a transaction, pg_stat_activity is a snapshot: take a new one each time.
      await locker.query('select pg_stat_clear_snapshot()');
      const { rows: left } = await locker.query(
        "select pid from pg_stat_activity where datname = current_database() and application_name like 'taskgraph-%'",
      );
      return left.length === 0;
    });
    // Only now does the lock go away: a write still waiting in PostgreSQL would go ahead here.
    await locker.query('commit');
    const { rows } = await locker.query<{ title: string }>('select title from task where id = $1', [createTask.id]);
    expect(rows).toEqual([{ title: 'original' }]);
  });
});

describe('after kill -9', () => {
  it(
    'the next start stops the orphaned embedded PostgreSQL and comes up with the data kept',
    async () => {
      const dataDir = tempDataDir();
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const env = { DATA_DIR: dataDir, PORT: String(await freePort()) };
      const first = runServer(env);
      cleanups.push(() => first.child.kill('SIGKILL'));
      const url = await first.ready;
      const user = await signUp(url);
      const { createTask } = await expectData(`${url}/graphql`, CreateTaskDocument, { input: { title: 'survives kill -9' } }, user.token);
      const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
      const orphan = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);

      first.child.kill('SIGKILL');
      await first.exited;
      expect(alive(orphan)).toBe(true); // what kill -9 leaves behind

      const second = runServer(env);
      cleanups.push(() => second.child.kill('SIGKILL'));
      const again = await second.ready;
      expect(second.output()).toContain('left running by a server that was killed');
      expect(alive(orphan)).toBe(false);
      const cookie = await signIn(again, user.email, user.password);
      expect(cookie).toContain('session_token');
      const { task } = await expectData(`${again}/graphql`, TaskDocument, { id: createTask.id }, user.token);
      expect(task?.title).toBe('survives kill -9');

      const postgres = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(alive(postgres)).toBe(false);
    },
    EMBEDDED_CLUSTER_TEST_MS,
  );
});
