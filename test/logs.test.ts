import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { print } from 'graphql';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, TasksDocument } from './generated/graphql.ts';
import { createTestDatabase } from './support/database.ts';
import { startDbGate } from './support/db-gate.ts';
import { expectData } from './support/graphql.ts';
import { runServer } from './support/process.ts';
import { signUp } from './support/users.ts';
import { until } from './support/poll.ts';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

type Line = Record<string, unknown> & { msg?: string; level?: number };

describe('logs during a database outage under load (NODE_ENV=production)', () => {
  it('are one JSON object per line, name the cause once, and stay bounded', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const gate = await startDbGate(database.url);
    cleanups.push(() => gate.close());
    const port = await freePort();
    const server = runServer({
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: gate.url,
      BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
      BETTER_AUTH_URL: `http://localhost:${port}`,
    });
    cleanups.push(() => server.child.kill('SIGKILL'));
    const url = await server.ready;
    const user = await signUp(url);
    await expectData(`${url}/graphql`, CreateTaskDocument, { input: { title: 'before the outage' } }, user.token);
    // Never seen by /graphql: its requests need a user lookup, which fails in the request context.
    const stranger = await signUp(url);
    const cutAt = Date.now();
    gate.shut();
    const requests = 200;
    const kinds = [
      () =>
        fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
          body: JSON.stringify({ query: print(TasksDocument) }),
        }),
      () =>
        fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
          body: JSON.stringify({ query: print(CreateTaskDocument), variables: { input: { title: 'during the outage' } } }),
        }),
      () =>
        fetch(`${url}/api/auth/sign-in/email`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: url },
          body: JSON.stringify({ email: user.email, password: user.password }),
        }),
      () => fetch(`${url}/readyz`),
      () =>
        fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${stranger.token}` },
          body: JSON.stringify({ query: print(TasksDocument) }),
        }),
    ];
    const statuses: number[] = [];
    const ids = new Set<string>();
    // 20 clients at a time, as a small burst of real traffic would be.
    for (let i = 0; i < requests; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => kinds[(i + j) % kinds.length]!()));
      for (const res of batch) {
        statuses.push(res.status);
        ids.add(res.headers.get('x-request-id') ?? '');
      }
    }
    expect(ids.size).toBe(requests);
    const ours = (l: Line) => ids.has(String((l['req'] as { id?: unknown } | undefined)?.id));
    expect(statuses).toHaveLength(requests);
    expect(statuses.filter((s) => s === 200).length).toBeLessThan(requests); // the outage was real

    // Every request line is written when its response ends: all are in by now, give or take a flush.
    const requestLines = () =>
      server
        .output()
        .split('\n')
        .filter((l) => l.includes('"res":{') && ours(JSON.parse(l) as Line)).length;
    await until(
      () => `${requests} request lines (${requestLines()} so far)`,
      () => requestLines() >= requests,
    );

    const raw = server.output().split('\n').filter(Boolean);
    const notJson = raw.filter((line) => {
      try {
        return typeof JSON.parse(line) !== 'object';
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
    const all = raw.map((l) => JSON.parse(l) as Line);
    const lines = all.filter((l) => ours(l) || Number(l['time']) >= cutAt);
    const perRequest = all.filter(ours);
    // Every other line written since the cut (a request line of the set-up may land just after it).
    const others = lines.filter((l) => !('res' in l));
    expect(perRequest).toHaveLength(requests);
    // Besides one line per request: the first of each distinct failure, not one per request.
    expect(others.length).toBeLessThan(50);

    // A failure names its cause (message and code) and the request it belongs to.
    const failure = others.find((l) => l['requestId'] && (l['err'] as { code?: unknown } | undefined)?.code);
    expect(failure).toEqual(
      expect.objectContaining({
        requestId: expect.any(String),
        err: expect.objectContaining({ message: expect.any(String), code: expect.any(String) }),
      }),
    );
    // Including one that fails before any resolver runs (Apollo itself logs nothing then).
    expect(others.find((l) => l.msg === 'could not build the request context')).toEqual(
      expect.objectContaining({ requestId: expect.any(String), err: expect.objectContaining({ code: expect.any(String) }) }),
    );
    // No driver internals dumped into a line.
    expect(lines.every((l) => !JSON.stringify(l).includes('"_queryQueue"'))).toBe(true);
  });
});
