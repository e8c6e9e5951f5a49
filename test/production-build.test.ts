import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildDist, dockerCommand } from '../bench/production.ts';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, TasksDocument } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { runServer, type ServerProcess } from './support/process.ts';
import { signUp } from './support/users.ts';

/**
 * What the Docker image runs: `npm run build` (src/ compiled to dist/), then the Dockerfile's CMD
 * (node, its V8 flags, dist/index.js). The rest of the suite runs the sources; this proves the
 * build is the same server.
 */

let database: TestDatabase;
let proc: ServerProcess | undefined;
let url: string;

beforeAll(async () => {
  database = await createTestDatabase();
  expect(await buildDist()).toEqual({ code: 0, output: '' });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const [node, ...args] = dockerCommand();
  expect(node).toBe('node');
  proc = runServer(
    {
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: database.url,
      BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
      BETTER_AUTH_URL: url,
    },
    args,
  );
  await proc.ready;
}, 180_000);
afterAll(async () => {
  if (proc?.child.exitCode === null) {
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
  await database.drop();
});

describe('the production build, started as the Docker image starts it', () => {
  it('runs dist/index.js with the V8 flags of the Dockerfile', () => {
    const [, ...args] = dockerCommand();
    expect(args.at(-1)).toBe('dist/index.js');
    expect(args.filter((a) => a.startsWith('--')).length).toBeGreaterThan(0);
  });

  it('signs a user up, creates a task and lists it; an anonymous caller gets 401, another user nothing', async () => {
    const graphqlUrl = `${url}/graphql`;
    const alice = await signUp(url);
    const bob = await signUp(url);
    const { createTask } = await expectData(graphqlUrl, CreateTaskDocument, { input: { title: 'built', priority: 'HIGH' } }, alice.token);
    const { tasks } = await expectData(graphqlUrl, TasksDocument, { first: 10 }, alice.token);
    expect(tasks.nodes.map((t) => [t.id, t.title, t.priority, t.owner.id])).toEqual([[createTask.id, 'built', 'HIGH', alice.id]]);

    const anonymous = await execute(graphqlUrl, TasksDocument, { first: 10 });
    expect({ status: anonymous.status, codes: codes(anonymous) }).toEqual({ status: 401, codes: ['UNAUTHENTICATED'] });
    expect((await expectData(graphqlUrl, TasksDocument, { first: 10 }, bob.token)).tasks.nodes).toEqual([]);
  });
});
