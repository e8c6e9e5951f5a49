import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { codeBlock, machineNode, run } from './support/docs.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * The first steps as written: README's first request and docs/getting-started.md's token steps,
 * run as they are (only the address and the email changed) against a server as `npm start` runs it
 * (development: Better Auth's Origin check is on, as it is not under NODE_ENV=test).
 */
let server: TestServer;
let dir: string;

beforeAll(async () => {
  server = await startServer({ NODE_ENV: 'development' });
  dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-first-steps-'));
  chmodSync(dir, 0o755);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
});

/** A snippet aimed at this test's server and a new user. */
function adapted(code: string, email: string): string {
  expect(code).toContain('http://localhost:4000');
  expect(code).toContain('ada@example.com');
  return code.replaceAll('http://localhost:4000', server.url).replaceAll('ada@example.com', email);
}

const jwtShape = /^[\w-]+\.[\w-]+\.[\w-]+$/;

describe('README: a first request', () => {
  it('creates a task with curl', async () => {
    const script = adapted(codeBlock('README.md', 'A first request', 'sh'), `${randomUUID()}@example.com`);
    const out = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir });
    expect(out).toContain('{"data":{"createTask":{"id":');
    expect(out).toContain('"title":"Try the task API"');
  });
});

describe('First steps: a token', () => {
  it('with curl: the sign-up answer holds the session token, /api/auth/token the JWT', async () => {
    const script = adapted(codeBlock('docs/getting-started.md', 'A token', 'sh'), `${randomUUID()}@example.com`);
    const out = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir });
    const tokens = [...out.matchAll(/"token":"([^"]+)"/g)].map((m) => m[1]!);
    expect(tokens).toHaveLength(2);
    const [session, jwt] = tokens as [string, string];
    expect(session).not.toMatch(jwtShape);
    expect(jwt).toMatch(jwtShape);

    // As the text says: the session token is refused as a Bearer token, the JWT accepted.
    const me = (token: string) =>
      fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
    const refused = await me(session);
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain('The token is invalid');
    expect((await me(jwt)).status).toBe(200);
  });

  it("with Node's fetch, on the machine's Node and on Node 24: signs up, then signs in", async () => {
    const file = path.join(dir, 'first-request.mjs');
    writeFileSync(file, adapted(codeBlock('docs/getting-started.md', 'A token', 'js'), `${randomUUID()}@example.com`));
    for (const node of [machineNode(), process.execPath]) {
      const out = await run(node, [file], { cwd: dir });
      const answer = JSON.parse(out.trim()) as unknown;
      expect(answer).toEqual({ data: { createTask: { id: expect.any(String), title: 'Try the task API', version: 1 } } });
    }
  });

  it("refuses a POST from Node's fetch without Origin, as the text says (403 MISSING_OR_NULL_ORIGIN)", async () => {
    const res = await fetch(`${server.url}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `${randomUUID()}@example.com`, password: 'correct horse battery', name: 'Ada' }),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('MISSING_OR_NULL_ORIGIN');
  });
});
