import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { print } from 'graphql';
import pg from 'pg';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, UpdateTaskDocument } from './generated/graphql.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { expectData } from './support/graphql.ts';
import { waitsOnLock } from './support/locks.ts';
import { until } from './support/poll.ts';
import { runServer, type ServerProcess } from './support/process.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * SIGTERM, as an orchestrator sends it before replacing a server: requests already running finish
 * and get their answer; new connections are refused at once. Each test has a server process of its
 * own (SIGTERM ends it).
 */

let database: TestDatabase;
let proc: ServerProcess;
let port: number;
// On 127.0.0.1 rather than `localhost`: "refused" must not depend on which address resolves first.
let url: string;
beforeEach(async () => {
  database = await createTestDatabase();
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  proc = runServer({
    PORT: String(port),
    DATABASE_URL: database.url,
    BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
    BETTER_AUTH_URL: url,
  });
  await proc.ready;
});
afterEach(async () => {
  if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  await proc.exited;
  await database.drop();
});

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

/** SIGTERM, then wait until the server has stopped accepting (it is draining). */
async function terminate(): Promise<void> {
  proc.child.kill('SIGTERM');
  await until(() => `new connections to be refused; server output:\n${proc.output()}`, refused);
}

/** A task of `user`'s, and a lock on its row held by the test: an update of it waits in the server. */
async function lockedTask(user: TestUser) {
  const { createTask } = await expectData(`${url}/graphql`, CreateTaskDocument, { input: { title: 'before' } }, user.token);
  const locker = new pg.Client({ connectionString: database.url });
  await locker.connect();
  await locker.query('begin');
  await locker.query('select id from task where id = $1 for update', [createTask.id]);
  return { id: createTask.id, locker };
}

const updateBody = (id: string) => JSON.stringify({ query: print(UpdateTaskDocument), variables: { id, input: { title: 'after' } } });

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Every HTTP/1.1 response that arrives on `socket` until the server closes it (Content-Length framed). */
function responses(socket: net.Socket): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (data = Buffer.concat([data, chunk])));
    socket.on('error', reject);
    socket.on('close', () => {
      const out: RawResponse[] = [];
      let rest = data;
      while (rest.length > 0) {
        const end = rest.indexOf('\r\n\r\n');
        if (end === -1) break;
        const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length'] ?? 0);
        out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
        rest = rest.subarray(end + 4 + length);
      }
      resolve(out);
    });
  });
}

describe('SIGTERM', () => {
  it('finishes a request in flight with 200, refuses new connections, then exits 0', async () => {
    const user = await signUp(url);
    const task = await lockedTask(user);
    try {
      const inFlight = fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: updateBody(task.id),
      });
      await waitsOnLock(task.locker, 'the update to wait for the row lock');

      await terminate();
      expect(proc.child.exitCode).toBeNull(); // still draining: the update has not finished

      await task.locker.query('rollback');
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: { updateTask: expect.objectContaining({ id: task.id, title: 'after' }) } });
    } finally {
      await task.locker.end();
    }
    expect(await proc.exited).toBe(0);
    expect(await refused()).toBe(true);
  });

  // A connection accepted before the drain can still carry a request after it has begun (a
  // keep-alive client, or one whose connection the kernel had accepted just before the listener
  // closed). Found by the test above: its own "refused yet?" probe once landed in that window, and
  // the server crashed setting a header on the answer /healthz had already sent (exit 1, the
  // request in flight cut: "other side closed").
  it('answers a request that arrives during the drain on a connection opened before it, with Connection: close', async () => {
    const user = await signUp(url);
    const task = await lockedTask(user);
    const socket = net.connect(port, '127.0.0.1');
    const answers = responses(socket);
    try {
      // The first request waits on the lock: the connection stays busy, so the drain keeps it.
      const body = updateBody(task.id);
      socket.write(
        `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${user.token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      await waitsOnLock(task.locker, 'the update to wait for the row lock');
      await terminate();

      // The second request on that connection arrives during the drain (pipelined behind the first).
      socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      await task.locker.query('rollback');
    } finally {
      await task.locker.end();
    }
    const [update, health, ...more] = await answers;
    expect(more).toEqual([]);
    expect(update?.status).toBe(200);
    expect(JSON.parse(update!.body)).toEqual({ data: { updateTask: expect.objectContaining({ id: task.id, title: 'after' }) } });
    // The answer made during the drain ends the connection: no keep-alive to a closing server.
    expect({ status: health?.status, connection: health?.headers['connection'], body: health?.body }).toEqual({
      status: 200,
      connection: 'close',
      body: '{"status":"ok"}',
    });
    expect(await proc.exited).toBe(0);
  });
});
