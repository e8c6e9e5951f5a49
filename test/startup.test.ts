import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../src/db/embedded.ts';
import { EMBEDDED_CLUSTER_TEST_MS, runServer, tempDataDir } from './support/process.ts';
import { CreateTaskDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { signIn, signUp } from './support/users.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start with nothing configured', () => {
  it(
    'runs an embedded PostgreSQL, keeps data across a restart and leaves no postgres process behind',
    async () => {
      const dataDir = tempDataDir();
      dirs.push(dataDir);
      // No locale in the environment (a bare CI shell): the cluster must still be UTF-8.
      const env = { DATA_DIR: dataDir, PORT: String(await freePort()), LANG: '', LC_ALL: '' };

      const first = runServer(env);
      const url = await first.ready;
      expect(first.output()).toContain('BETTER_AUTH_SECRET is not set');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const user = await signUp(url);
      // 200 emoji are 200 characters (a SQL_ASCII cluster counted 800 bytes and refused them).
      const title = '\u{1F984}'.repeat(200);
      const { createTask } = await expectData(url + '/graphql', CreateTaskDocument, { input: { title } }, user.token);
      expect(createTask.title).toBe(title);
      const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
      const postgresPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      expect(alive(postgresPid)).toBe(true);
      const secret = readFileSync(path.join(dataDir, 'auth-secret'), 'utf8');

      // A second server on the same data folder is refused with a clear message.
      const second = runServer({ ...env, PORT: String(await freePort()) });
      expect(await second.exited).toBe(1);
      expect(second.output()).toMatch(/in use by process \d+/);
      expect(second.output()).not.toMatch(/\n\s+at /); // no stack trace

      first.child.kill('SIGTERM');
      expect({ exitCode: await first.exited, output: first.output() }).toEqual({ exitCode: 0, output: expect.any(String) });
      expect(alive(postgresPid)).toBe(false);
      expect(existsSync(pidFile)).toBe(false);

      const restarted = runServer(env);
      const again = await restarted.ready;
      expect(restarted.output()).not.toContain('initialising');
      expect(restarted.output()).not.toContain('BETTER_AUTH_SECRET is not set');
      expect(readFileSync(path.join(dataDir, 'auth-secret'), 'utf8')).toBe(secret);
      await expect(signIn(again, user.email, user.password)).resolves.toContain('session_token');
      // A closed terminal (SIGHUP) shuts down as cleanly as SIGTERM: PostgreSQL goes too.
      const restartedPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      restarted.child.kill('SIGHUP');
      expect(await restarted.exited).toBe(0);
      expect(alive(restartedPid)).toBe(false);
    },
    EMBEDDED_CLUSTER_TEST_MS,
  );

  it('explains a half-initialised data folder instead of printing a stack trace', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    mkdirSync(path.join(dataDir, 'postgres'));
    writeFileSync(path.join(dataDir, 'postgres', 'postgresql.conf'), '');

    const server = runServer({ DATA_DIR: dataDir, PORT: String(await freePort()) });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('holds no complete cluster');
    expect(server.output()).toContain('Delete the folder');
  });
});

describe('configuration errors', () => {
  it('refuses to start in production without a secret or public URL, naming every variable at once', async () => {
    const server = runServer({ NODE_ENV: 'production', DATA_DIR: tempDataDir(), BETTER_AUTH_SECRET: '', PORT: 'x' });
    expect(await server.exited).toBe(1);
    const out = server.output();
    // One run names every problem: a bad PORT does not hide the production rules.
    expect(out).toMatch(/^\s+- PORT: /m);
    expect(out).toMatch(/^\s+- BETTER_AUTH_SECRET: required in production/m);
    expect(out).toMatch(/^\s+- BETTER_AUTH_URL: required in production/m);
    expect(out).not.toMatch(/\n\s+at /);
  });
});
