/**
 * Subscriptions under load: one server instance, 5,000 open graphql-ws subscriptions (1,000 users x
 * 5 sockets), task changes at a fixed rate through the HTTP API.
 *
 * 1. A database of its own (DATABASE_URL's server, else an embedded PostgreSQL in a temp folder).
 * 2. The real server (`node src/index.ts`, NODE_ENV=production) on it.
 * 3. 1,000 users inserted; a token each, signed by Better Auth's own key (auth.api.signJWT).
 * 4. 5,000 sockets (plain `ws`, protocol graphql-transport-ws) each subscribed to taskEvents;
 *    server RSS before and after gives the memory per socket.
 * 5. Priming: one task per user, until every socket has heard of its user's task.
 * 6. Load: BENCH_RATE changes a second (3 of 4 updates, 1 of 4 creates) for BENCH_DURATION
 *    seconds, titles stamped with a sequence number. Each delivery is checked: right user, right
 *    task; latency = delivery - arrival of the mutation's HTTP response (the commit is before it;
 *    negative when the event beat the response). An event not heard within 10 s counts as lost.
 * 7. The write cost of the change-log trigger (task_change_log): single-row updates in SQL (100 per
 *    transaction) with the trigger on and off, interleaved.
 * Prints a table and writes it as JSON to bench/results/. Bounded: exits 1 after BENCH_DEADLINE s.
 *
 * Env: BENCH_USERS (1000), BENCH_SOCKETS_PER_USER (5), BENCH_RATE (200), BENCH_DURATION (15),
 * BENCH_DEADLINE (300), DATABASE_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createAuth } from '../src/auth/auth.ts';
import { parseConfig, projectRoot } from '../src/config.ts';
import { freePort } from '../src/db/embedded.ts';
import { benchDatabase } from './database.ts';

const USERS = Number(process.env['BENCH_USERS'] ?? 1000);
const PER_USER = Number(process.env['BENCH_SOCKETS_PER_USER'] ?? 5);
const RATE = Number(process.env['BENCH_RATE'] ?? 200);
const DURATION = Number(process.env['BENCH_DURATION'] ?? 15);
const DEADLINE = Number(process.env['BENCH_DEADLINE'] ?? 300);
const TRIGGER_ROWS = 3000;

const log = (message: string) => console.error(`[bench:subscriptions] ${message}`);
const cleanups: Array<() => unknown> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
}

function rssMiB(pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return line ? Number(line[1]) / 1024 : 0;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

async function startServer(env: Record<string, string>, readyUrl: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['src/index.ts'], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  cleanups.push(() => child.kill('SIGTERM'));
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    if (
      await fetch(readyUrl).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
    await sleep(100);
  }
  throw new Error('the server did not become ready');
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Socket {
  user: number;
  ws: WebSocket;
  acked: boolean;
}

/** One expected change: its owner, when its HTTP response arrived, which sockets heard it. */
interface Change {
  user: number;
  respondedAt: number | undefined;
  heard: Set<number>;
  /** Deliveries that arrived before the response, with their time. */
  early: number[];
}

const SUBSCRIPTION = 'subscription { taskEvents { kind taskId task { id title owner { id } } } }';

async function main(): Promise<void> {
  const started = Date.now();
  const guard = setTimeout(() => {
    log(`deadline of ${DEADLINE} s passed: giving up`);
    void shutdown(1);
  }, DEADLINE * 1000);
  guard.unref();

  // 1. Database.
  const database = await benchDatabase(cleanups);
  const dbUrl = database.url;

  // 2. The server, as deployed.
  const port = await freePort();
  const serverUrl = `http://localhost:${port}`;
  const env = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_PORT: String(await freePort()),
    DATABASE_URL: dbUrl,
    BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
    BETTER_AUTH_URL: serverUrl,
    LOG_LEVEL: 'warn',
    // The writes of the load are the bench's own; per-user API limits are not what is measured.
    RATE_LIMIT_PER_MINUTE: '0',
  };
  log('starting the server');
  const server = await startServer(env, `${serverUrl}/readyz`);
  const pid = server.pid!;

  // 3. Users and tokens.
  const db = new pg.Pool({ connectionString: dbUrl, max: 4 });
  cleanups.push(() => db.end());
  const users = Array.from({ length: USERS }, (_, i) => ({ id: `bench-user-${i}`, email: `bench-${i}@example.test` }));
  await db.query(
    `insert into "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
     select id, 'Bench ' || id, email, true, now(), now() from unnest($1::text[], $2::text[]) as u(id, email)`,
    [users.map((u) => u.id), users.map((u) => u.email)],
  );
  const auth = createAuth(parseConfig(env), db, pino({ level: 'silent' }));
  const tokens: string[] = [];
  for (let i = 0; i < users.length; i += 50) {
    tokens.push(
      ...(await Promise.all(
        users.slice(i, i + 50).map(
          async (u) =>
            (
              await auth.api.signJWT({
                body: { payload: { sub: u.id, email: u.email, name: `Bench ${u.id}`, iat: Math.floor(Date.now() / 1000) } },
              })
            ).token,
        ),
      )),
    );
  }
  log(`${users.length} users and tokens`);

  // 4. Sockets.
  const changes = new Map<number, Change>();
  const latencies: number[] = [];
  let misdelivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let closedEarly = 0;
  let errorsSeen = 0;
  // Off for the SQL measurement at the end, whose updates are notified too.
  let counting = true;
  const primedBy = new Map<string, Set<number>>(); // prime title -> sockets that heard it
  const sockets: Socket[] = [];

  const onEvent = (s: number, socket: Socket, raw: string) => {
    const message = JSON.parse(raw) as {
      type: string;
      payload?: { data?: { taskEvents?: { task: { title: string; owner: { id: string } } | null } } };
    };
    if (message.type === 'connection_ack') {
      socket.acked = true;
      socket.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION } }));
      return;
    }
    if (message.type !== 'next') {
      if (message.type !== 'pong' && message.type !== 'ping') unexpected++;
      return;
    }
    if (!counting) return;
    const now = Date.now();
    if ((message.payload as { errors?: unknown } | undefined)?.errors) {
      if (errorsSeen++ < 3) log(`error event: ${raw}`);
      return;
    }
    const task = message.payload?.data?.taskEvents?.task;
    if (!task) return; // DELETED: not produced by the load
    if (task.owner.id !== users[socket.user]!.id) {
      misdelivered++;
      return;
    }
    if (task.title.startsWith('prime ')) {
      primedBy.get(task.title)?.add(s);
      return;
    }
    const seq = Number(task.title.slice(1));
    const change = changes.get(seq);
    if (change?.user !== socket.user) {
      misdelivered++;
      return;
    }
    if (change.heard.has(s)) {
      duplicates++;
      return;
    }
    change.heard.add(s);
    if (change.respondedAt === undefined) change.early.push(now);
    else latencies.push(now - change.respondedAt);
  };

  const rssBefore = rssMiB(pid);
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  log(`opening ${USERS * PER_USER} sockets`);
  for (let i = 0; i < USERS * PER_USER; i += 200) {
    const batch = [];
    for (let s = i; s < Math.min(i + 200, USERS * PER_USER); s++) {
      const user = s % USERS;
      const ws = new WebSocket(wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
      const socket: Socket = { user, ws, acked: false };
      sockets.push(socket);
      ws.on('message', (data: Buffer) => onEvent(s, socket, data.toString('utf8')));
      ws.on('close', () => {
        if (!stopping) closedEarly++;
      });
      ws.on('error', () => {});
      batch.push(
        new Promise<void>((resolve, reject) => {
          ws.once('open', () => {
            ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${tokens[user]!}` } }));
            resolve();
          });
          ws.once('error', reject);
        }),
      );
    }
    await Promise.all(batch);
  }
  await until(() => sockets.every((s) => s.acked), 60_000, 'every socket acknowledged');
  cleanups.push(() => sockets.forEach((s) => s.ws.terminate()));
  await sleep(500);
  const rssAfter = rssMiB(pid);
  const perSocketKiB = ((rssAfter - rssBefore) * 1024) / sockets.length;
  log(`${sockets.length} sockets open; server RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB (${perSocketKiB.toFixed(1)} KiB per socket)`);

  // 5. Priming: every subscription in place (the protocol does not acknowledge a subscribe).
  const gql = async (token: string, query: string, variables: Record<string, unknown>) => {
    const res = await fetch(`${serverUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: Record<string, { id: string }>; errors?: unknown };
    if (!res.ok || body.errors) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
    return body.data!;
  };
  const create = 'mutation ($title: String!) { createTask(input: { title: $title }) { id } }';
  const update = 'mutation ($id: ID!, $title: String!) { updateTask(id: $id, input: { title: $title }) { id } }';
  const taskOf: string[] = [];
  log('priming');
  for (let i = 0; i < USERS; i += 50) {
    await Promise.all(
      users.slice(i, i + 50).map(async (_, k) => {
        const u = i + k;
        primedBy.set(`prime ${u}`, new Set());
        taskOf[u] = (await gql(tokens[u]!, create, { title: `prime ${u}` }))['createTask']!.id;
      }),
    );
  }
  const primed = () => [...primedBy.values()].reduce((n, set) => n + set.size, 0);
  await until(() => primed() === sockets.length, 30_000, `every socket primed (${primed()} of ${sockets.length})`).catch((err: unknown) => {
    log(String(err));
  });
  const primedSockets = primed();
  log(`${primedSockets} of ${sockets.length} subscriptions in place`);

  // 6. Load at a fixed rate.
  log(`${RATE} changes/s for ${DURATION} s`);
  let seq = 0;
  let failures = 0;
  const inFlight = new Set<Promise<void>>();
  const loadStart = Date.now();
  const cpuBefore = cpuSeconds(pid);
  const total = RATE * DURATION;
  while (seq < total) {
    const due = loadStart + (seq * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const n = seq++;
    const u = (n * 7919) % USERS;
    const change: Change = { user: u, respondedAt: undefined, heard: new Set(), early: [] };
    changes.set(n, change);
    const title = `b${n}`;
    const p = (n % 4 === 0 ? gql(tokens[u]!, create, { title }) : gql(tokens[u]!, update, { id: taskOf[u], title }))
      .then(() => {
        change.respondedAt = Date.now();
        for (const t of change.early) latencies.push(t - change.respondedAt);
      })
      .catch((err: unknown) => {
        failures++;
        changes.delete(n);
        if (failures <= 3) log(`change ${title} failed: ${String(err)} (${String((err as { cause?: unknown }).cause)})`);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const loadSeconds = (Date.now() - loadStart) / 1000;
  const achievedRate = total / loadSeconds;
  const serverCpuPercent = Math.round(((cpuSeconds(pid) - cpuBefore) / loadSeconds) * 100);
  const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  // Stragglers: a bounded wait for deliveries still on their way.
  const expected = () => [...changes.values()].reduce((n, c) => n + PER_USER - c.heard.size, 0);
  await until(() => expected() === 0, 10_000, 'stragglers').catch(() => {});
  const lost = expected();
  for (const [n, c] of [...changes].filter(([, c]) => c.heard.size < PER_USER).slice(0, 5)) {
    log(`lost: change b${n} (${n % 4 === 0 ? 'create' : 'update'}) of user ${c.user}: heard by ${c.heard.size} of ${PER_USER}`);
  }
  const delivered = [...changes.values()].reduce((n, c) => n + c.heard.size, 0);
  counting = false;

  // 7. Write cost of the trigger, in SQL, interleaved rounds.
  log('measuring the change-log trigger write cost');
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  const ids = taskOf.slice(0, 100);
  // 100 single-row updates per transaction: the commit's fsync would otherwise drown the trigger's cost.
  const timeUpdates = async () => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < TRIGGER_ROWS; i++) {
      if (i % 100 === 0) await client.query('begin');
      await client.query('update task set title = $2 where id = $1', [ids[i % ids.length], `t${i}`]);
      if (i % 100 === 99) await client.query('commit');
    }
    return Number(process.hrtime.bigint() - t) / 1e3 / TRIGGER_ROWS;
  };
  const withTrigger: number[] = [];
  const withoutTrigger: number[] = [];
  for (let round = 0; round < 2; round++) {
    withTrigger.push(await timeUpdates());
    await client.query('alter table task disable trigger task_change_log');
    withoutTrigger.push(await timeUpdates());
    await client.query('alter table task enable trigger task_change_log');
  }
  await client.end();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  latencies.sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    sockets: sockets.length,
    users: USERS,
    socketsPerUser: PER_USER,
    primedSubscriptions: primedSockets,
    targetRate: RATE,
    achievedRate: Math.round(achievedRate),
    /** Of one core, during the load; and the machine's 1-minute load average after it (2 cores here, shared). */
    serverCpuPercent,
    loadAverage: Number(loadAverage),
    changes: changes.size,
    failedChanges: failures,
    deliveries: delivered,
    lost,
    misdelivered,
    duplicates,
    unexpectedMessages: unexpected,
    errorEvents: errorsSeen,
    socketsClosedEarly: closedEarly,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      deliveredBeforeResponse: latencies.filter((l) => l < 0).length,
    },
    serverRssMiB: { before: Math.round(rssBefore), after: Math.round(rssAfter), peak: Math.round(rssMiB(pid)) },
    memoryPerSocketKiB: Number(perSocketKiB.toFixed(1)),
    triggerUpdateUs: { withTrigger: Number(mean(withTrigger).toFixed(1)), withoutTrigger: Number(mean(withoutTrigger).toFixed(1)) },
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const lines = [
    '| sockets | changes/s | server CPU % | load avg | deliveries | p50 ms | p90 ms | p99 ms | max ms | lost | misdelivered | KiB/socket | update µs (trigger / none) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${result.sockets} | ${result.achievedRate} | ${serverCpuPercent} | ${result.loadAverage} | ${result.deliveries} | ${result.latencyMs.p50} | ${result.latencyMs.p90} | ${result.latencyMs.p99} | ${result.latencyMs.max} | ${lost} | ${misdelivered} | ${result.memoryPerSocketKiB} | ${result.triggerUpdateUs.withTrigger} / ${result.triggerUpdateUs.withoutTrigger} |`,
  ];
  console.log(lines.join('\n'));
  const dir = path.join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `subscriptions-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`written to ${path.relative(projectRoot, file)}`);
  const ok = lost === 0 && misdelivered === 0 && failures === 0 && duplicates === 0 && primedSockets === sockets.length && result.latencyMs.p99 < 100;
  if (!ok) log('FAILED: events lost, misdelivered or late (p99 >= 100 ms), or subscriptions not in place');
  await shutdown(ok ? 0 : 1);
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // best effort
    }
  }
  process.exit(code);
}

main().catch(async (err: unknown) => {
  console.error(err);
  await shutdown(1);
});
