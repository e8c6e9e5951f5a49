import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { childProcesses, dockerCommand, serveFlags } from '../bench/production.ts';
import { projectRoot } from '../src/config.ts';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, TasksDocument } from './generated/graphql.ts';
import { codes, execute, expectData } from './support/graphql.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { runNpmStart, type ServerProcess } from './support/process.ts';
import { signUp } from './support/users.ts';

/**
 * What runs in production: `npm start` with NODE_ENV=production (the README's command, and what
 * `npm run bench` measures) and the Docker image's CMD both run src/serve.sh, which execs node with its
 * V8 flags on the compiled dist/index.js, built again first whenever src/ changed since it was
 * built. The rest of the suite runs the sources; this proves the build is the same server, that a
 * stale build does not run, and that npm's signals reach the server.
 */

const dist = path.join(projectRoot, 'dist');
const stamp = path.join(dist, '.sources.sha256');
const planted = path.join(dist, 'planted-by-a-test.js');

let database: TestDatabase;
let proc: ServerProcess | undefined;
let dev: ServerProcess | undefined;
let url: string;

const stop = async (p: ServerProcess | undefined) => {
  if (p?.child.exitCode === null) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
};

beforeAll(async () => {
  database = await createTestDatabase();
  // A dist/ built from other sources, as a checkout or an unpacked archive can leave: its stamp
  // does not match today's src/, and it holds a module today's sources do not.
  mkdirSync(dist, { recursive: true });
  writeFileSync(stamp, 'built from other sources\n');
  writeFileSync(planted, '');
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  proc = runNpmStart({
    NODE_ENV: 'production',
    PORT: String(port),
    DATABASE_URL: database.url,
    BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
    BETTER_AUTH_URL: url,
  });
  await proc.ready;
}, 300_000);
afterAll(async () => {
  await stop(proc);
  await stop(dev);
  await database.drop();
});

describe('npm start with NODE_ENV=production, as the Docker image runs the server', () => {
  it("builds dist/ again from today's sources before it runs it", () => {
    expect(proc!.output()).toContain('npm start: building dist/ (src/ changed since it was built)');
    expect(existsSync(planted)).toBe(false);
    expect(readFileSync(stamp, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  });

  it("runs node with src/serve.sh's V8 flags on dist/index.js, as npm's own child (nothing in between)", () => {
    const flags = serveFlags();
    expect(flags.length).toBeGreaterThan(0);
    expect(flags.every((f) => f.startsWith('--'))).toBe(true);
    const children = childProcesses(proc!.child.pid!);
    expect(children.map((c) => c.argv)).toEqual([['node', ...flags, 'dist/index.js']]);
    // The process that logs is that one.
    const pids = new Set([...proc!.output().matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1])));
    expect([...pids]).toEqual([children[0]!.pid]);
  });

  it('is what the Docker image runs: its CMD is src/serve.sh too', () => {
    expect(dockerCommand()).toEqual(['sh', 'src/serve.sh']);
    const scripts = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start']).toBe('exec sh src/serve.sh');
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

  it('passes a SIGTERM sent to npm on to the server, which drains and exits 0', async () => {
    const server = childProcesses(proc!.child.pid!)[0]!.pid;
    proc!.child.kill('SIGTERM');
    expect(await proc!.exited).toBe(0);
    expect(proc!.output()).toMatch(new RegExp(`"pid":${server},[^\\n]*"signal":"SIGTERM"[^\\n]*shutting down: draining requests`));
    expect(existsSync(`/proc/${server}`)).toBe(false);
  });
});

describe('npm start in development', () => {
  it('runs the TypeScript sources (edits take effect at the next start) with the same V8 flags', async () => {
    dev = runNpmStart({ NODE_ENV: 'development', PORT: String(await freePort()), DATABASE_URL: database.url });
    await dev.listening;
    expect(childProcesses(dev.child.pid!).map((c) => c.argv)).toEqual([['node', ...serveFlags(), 'src/index.ts']]);
    expect(dev.output()).not.toContain('building dist/');
  }, 120_000);
});
