/**
 * Subscriptions under load (issue 25 item 6): one server instance as deployed (`npm start`,
 * NODE_ENV=production, every default), 18,000 open graphql-ws subscriptions (3,600 users x 5
 * sockets), task changes at a fixed rate through the HTTP API.
 *
 * 1. A database of its own (DATABASE_URL's server, else an embedded PostgreSQL in a temp folder).
 * 2. The server through `npm start` on it (bench/production.ts).
 * 3. 3,600 users inserted; a token each, signed by Better Auth's own key (auth.api.signJWT); one task
 *    each, created over HTTP (so every token is verified and every user cached before the sockets:
 *    what the sockets cost is not mixed with what a user costs).
 * 4. The sockets, opened by BENCH_CLIENT_PROCESSES client processes (bench/subscription-clients.ts;
 *    each holds its own descriptors, far below the 20,000 a process may hold here), each
 *    authenticated and subscribed to taskEvents. Server RSS and heap before and after give the
 *    memory per socket.
 * 5. Priming: one update per user, until every socket has heard of its user's task.
 * 6. Load: BENCH_RATE changes a second (3 of 4 updates, 1 of 4 creates) for BENCH_DURATION
 *    seconds, titles stamped with a sequence number, while another user's `tasks(first: 20)` and
 *    `/healthz` are timed every 50 ms (HTTP still answering). Each delivery is checked: right
 *    user, right task; latency = when the client process read it - when the mutation's HTTP
 *    response arrived (the commit is before it; negative when the event beat the response). An
 *    event not heard within 10 s counts as lost.
 * 7. The write cost of the change-log trigger (task_change_log): single-row updates in SQL (100 per
 *    transaction) with the trigger on and off, interleaved.
 * Prints a table and writes it as JSON to bench/results/. Bounded: exits 1 after BENCH_DEADLINE s.
 *
 * Env: BENCH_USERS (3600), BENCH_SOCKETS_PER_USER (5), BENCH_RATE (100), BENCH_DURATION (20),
 * BENCH_CLIENT_PROCESSES (3), BENCH_DEADLINE (600), BENCH_SERVER_NODE_ARGS (more node options for
 * the server, e.g. `--cpu-prof`), BENCH_HEAP_SNAPSHOT_DIR (a heap snapshot of the server with its
 * sockets open is written there, before the load), DATABASE_URL.
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { pino } from 'pino';
import { createAuth } from '../src/auth/auth.ts';
import { parseConfig, projectRoot } from '../src/config.ts';
import { freePort } from '../src/db/embedded.ts';
import { benchDatabase } from './database.ts';
import { childProcesses, npmStart } from './production.ts';
import type { ClientsOpen, ClientsReport } from './subscription-clients.ts';

const USERS = Number(process.env['BENCH_USERS'] ?? 3600);
const PER_USER = Number(process.env['BENCH_SOCKETS_PER_USER'] ?? 5);
const RATE = Number(process.env['BENCH_RATE'] ?? 100);
const DURATION = Number(process.env['BENCH_DURATION'] ?? 20);
const CLIENT_PROCESSES = Number(process.env['BENCH_CLIENT_PROCESSES'] ?? 3);
const DEADLINE = Number(process.env['BENCH_DEADLINE'] ?? 600);
const TRIGGER_ROWS = 3000;
/** Where a heap snapshot of the server with its sockets open is written (none when unset). */
const HEAP_SNAPSHOT_DIR = process.env['BENCH_HEAP_SNAPSHOT_DIR'];
/** Handshakes in flight at once, per client process. */
const OPEN_WINDOW = 100;

const log = (message: string) => console.error(`[bench:subscriptions] ${message}`);
const cleanups: Array<() => unknown> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds since the epoch, fractional: comparable across the client processes. */
const now = () => performance.timeOrigin + performance.now();

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
}

function rssMiB(pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return line ? Number(line[1]) / 1024 : 0;
}

const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The server's V8 heap in use and its memory outside the heap (Buffers, ws), from its metrics, in MiB. */
async function heapMiB(metricsUrl: string): Promise<{ used: number; external: number }> {
  const text = await fetch(metricsUrl).then((r) => r.text());
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1024 / 1024;
  return { used: value('nodejs_heap_size_used_bytes'), external: value('nodejs_external_memory_bytes') };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

/** The server as the README runs it in production: `npm start`; the process measured is npm's child. */
async function startServer(env: Record<string, string>, readyUrl: string): Promise<number> {
  const nodeArgs = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  if (HEAP_SNAPSHOT_DIR) nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${HEAP_SNAPSHOT_DIR}`);
  const npm = npmStart({ ...process.env, ...env }, nodeArgs, ['ignore', 'ignore', 'inherit']);
  cleanups.push(() => npm.kill('SIGTERM'));
  for (let i = 0; i < 3000; i++) {
    if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}`);
    if (
      await fetch(readyUrl).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      const children = childProcesses(npm.pid!);
      if (children.length !== 1) throw new Error(`npm start: expected the server as npm's one child, found ${JSON.stringify(children)}`);
      return children[0]!.pid;
    }
    await sleep(100);
  }
  throw new Error('the server did not become ready');
}

/** Has the server write a heap snapshot (SIGUSR2, see startServer) and waits until it is written. */
async function heapSnapshot(pid: number, serverUrl: string, dir: string): Promise<void> {
  // The server stops for as long as the snapshot takes: never during the load.
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  await until(() => readdirSync(dir).some((f) => f.endsWith('.heapsnapshot') && !before.has(f)), 60_000, 'the heap snapshot');
  // Written synchronously: the server answers again once it is complete.
  await fetch(`${serverUrl}/healthz`);
  log(`heap snapshot written to ${dir}`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
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
const PAGE_QUERY = '{ tasks(first: 20) { nodes { id title } } }';
const round1 = (v: number) => Math.round(v * 10) / 10;

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
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const serverUrl = `http://127.0.0.1:${port}`;
  const env = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    DATABASE_URL: dbUrl,
    BETTER_AUTH_SECRET: randomBytes(32).toString('base64'),
    BETTER_AUTH_URL: serverUrl,
    LOG_LEVEL: 'warn',
  };
  log('starting the server: npm start, NODE_ENV=production');
  const pid = await startServer(env, `${serverUrl}/readyz`);

  // 3. Users, tokens, one task each.
  const db = new pg.Pool({ connectionString: dbUrl, max: 4 });
  cleanups.push(() => db.end());
  // The last user is the HTTP probe's: no socket.
  const users = Array.from({ length: USERS + 1 }, (_, i) => ({ id: `bench-user-${i}`, email: `bench-${i}@example.test` }));
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
  const gql = async (token: string, query: string, variables: Record<string, unknown>) => {
    for (;;) {
      const res = await fetch(`${serverUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      // Shed while the server was busy (thousands of new users at once): as a client should, later.
      if (res.status === 503 && res.headers.get('retry-after')) {
        await res.arrayBuffer();
        await sleep(Number(res.headers.get('retry-after')) * 1000);
        continue;
      }
      const body = (await res.json()) as { data?: Record<string, { id: string }>; errors?: unknown };
      if (!res.ok || body.errors) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
      return body.data!;
    }
  };
  const create = 'mutation ($title: String!) { createTask(input: { title: $title }) { id } }';
  const update = 'mutation ($id: ID!, $title: String!) { updateTask(id: $id, input: { title: $title }) { id } }';
  const taskOf: string[] = [];
  for (let i = 0; i < users.length; i += 50) {
    await Promise.all(
      users.slice(i, i + 50).map(async (_, k) => {
        const u = i + k;
        taskOf[u] = (await gql(tokens[u]!, create, { title: `first ${u}` }))['createTask']!.id;
      }),
    );
  }
  log(`${USERS} users, their tokens and a task each (and the HTTP probe's user)`);

  // 4. Sockets.
  const sockets = USERS * PER_USER;
  const userOf = (s: number) => s % USERS;
  const changes = new Map<number, Change>();
  const latencies: number[] = [];
  let misdelivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let closedEarly = 0;
  let errorsSeen = 0;
  let clientMessages = 0;
  // Off for the SQL measurement at the end, whose updates are heard too.
  let counting = true;
  const primed = new Set<number>(); // sockets that heard their user's prime update

  const onEvent = (s: number, title: string | null, at: number) => {
    if (!counting) return;
    if (title === null) {
      errorsSeen++;
      return;
    }
    const user = userOf(s);
    if (title.startsWith('first ')) return; // a late echo of the set-up's creates (none expected)
    if (title.startsWith('prime ')) {
      if (title !== `prime ${user}`) misdelivered++;
      else primed.add(s);
      return;
    }
    const seq = Number(title.slice(1));
    const change = changes.get(seq);
    if (change?.user !== user) {
      misdelivered++;
      return;
    }
    if (change.heard.has(s)) {
      duplicates++;
      return;
    }
    change.heard.add(s);
    if (change.respondedAt === undefined) change.early.push(at);
    else latencies.push(at - change.respondedAt);
  };

  await sleep(1000);
  // A snapshot without sockets, and one with them (below): the difference is what they hold.
  if (HEAP_SNAPSHOT_DIR) await heapSnapshot(pid, serverUrl, HEAP_SNAPSHOT_DIR);
  const rssBefore = rssMiB(pid);
  const heapBefore = await heapMiB(metricsUrl);
  const filesBefore = openFiles(pid);
  log(`opening ${sockets} sockets from ${CLIENT_PROCESSES} client processes`);
  const clients: ChildProcess[] = [];
  const opened: Array<Extract<ClientsReport, { type: 'opened' }>> = [];
  const progress = new Map<number, number>();
  const openStart = Date.now();
  for (let c = 0; c < CLIENT_PROCESSES; c++) {
    const child = fork(path.join(projectRoot, 'bench', 'subscription-clients.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    cleanups.push(() => {
      if (child.connected) child.send({ type: 'stop' });
      child.kill('SIGTERM');
    });
    clients.push(child);
    child.on('message', (report: ClientsReport) => {
      if (report.type === 'events') {
        for (const [s, title, at] of report.heard) onEvent(s, title, at);
        for (const e of report.errors) if (clientMessages++ < 10) log(`client saw: ${e}`);
        unexpected += report.unexpected;
        if (!stopping) closedEarly += report.closedEarly;
      } else if (report.type === 'progress') {
        progress.set(c, report.acked);
      } else {
        progress.set(c, report.acked);
        opened.push(report);
      }
    });
    const mine: ClientsOpen['sockets'] = [];
    for (let s = c; s < sockets; s += CLIENT_PROCESSES) mine.push({ index: s, token: tokens[userOf(s)]! });
    child.send({
      type: 'open',
      url: `ws://127.0.0.1:${port}/graphql`,
      sockets: mine,
      window: OPEN_WINDOW,
      subscription: SUBSCRIPTION,
    } satisfies ClientsOpen);
  }
  const ticker = setInterval(() => log(`  ${[...progress.values()].reduce((a, b) => a + b, 0)} sockets acknowledged`), 5000);
  await until(() => opened.length === CLIENT_PROCESSES, DEADLINE * 1000, 'every client process done opening');
  clearInterval(ticker);
  const openSeconds = (Date.now() - openStart) / 1000;
  const acked = opened.reduce((n, o) => n + o.acked, 0);
  const refusedUpgrades = opened.reduce((n, o) => n + o.refused, 0);
  const retries = opened.reduce((n, o) => n + o.retried, 0);
  const failedSockets = opened.reduce((n, o) => n + o.failed, 0);
  if (failedSockets > 0) log(`${failedSockets} sockets could not be opened: ${opened.map((o) => o.firstError).find(Boolean)}`);
  await sleep(2000);
  const rssAfter = rssMiB(pid);
  const heapAfter = await heapMiB(metricsUrl);
  const filesAfter = openFiles(pid);
  const perSocketKiB = ((rssAfter - rssBefore) * 1024) / acked;
  const heapPerSocketKiB = ((heapAfter.used - heapBefore.used) * 1024) / acked;
  const externalPerSocketKiB = ((heapAfter.external - heapBefore.external) * 1024) / acked;
  log(
    `${acked} of ${sockets} sockets open in ${openSeconds.toFixed(0)} s (${refusedUpgrades} upgrades refused, ${retries} retries); ` +
      `server RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB (${perSocketKiB.toFixed(1)} KiB per socket), ` +
      `heap used ${heapBefore.used.toFixed(0)} -> ${heapAfter.used.toFixed(0)} MiB (${heapPerSocketKiB.toFixed(1)} KiB per socket), ` +
      `open files ${filesBefore} -> ${filesAfter}`,
  );

  if (HEAP_SNAPSHOT_DIR) await heapSnapshot(pid, serverUrl, HEAP_SNAPSHOT_DIR);

  // 5. Priming: every subscription in place (the protocol does not acknowledge a subscribe).
  log('priming');
  for (let i = 0; i < USERS; i += 50) {
    await Promise.all(
      users.slice(i, Math.min(i + 50, USERS)).map(async (_, k) => {
        const u = i + k;
        await gql(tokens[u]!, update, { id: taskOf[u], title: `prime ${u}` });
      }),
    );
  }
  await until(() => primed.size === acked, 30_000, `every socket primed (${primed.size} of ${acked})`).catch((err: unknown) => {
    log(String(err));
  });
  const primedSockets = primed.size;
  if (primedSockets < acked) {
    const missing = Array.from({ length: sockets }, (_, i) => i).filter((i) => !primed.has(i));
    log(`not primed: sockets ${missing.slice(0, 10).join(', ')} (of users ${missing.slice(0, 10).map(userOf).join(', ')})`);
  }
  log(`${primedSockets} of ${acked} subscriptions in place`);

  // 6. Load at a fixed rate, HTTP timed beside it.
  log(`${RATE} changes/s for ${DURATION} s`);
  const probe = { latencies: [] as number[], failed: 0, health: [] as number[] };
  const probing = { on: true };
  const probeToken = tokens[USERS]!;
  const probing$ = (async () => {
    while (probing.on) {
      const t = now();
      const ok = await fetch(`${serverUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${probeToken}` },
        body: JSON.stringify({ query: PAGE_QUERY }),
      }).then(
        async (r) => r.ok && !(await r.text()).includes('"errors"'),
        () => false,
      );
      if (ok) probe.latencies.push(now() - t);
      else probe.failed++;
      const h = now();
      const healthy = await fetch(`${serverUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (healthy) probe.health.push(now() - h);
      else probe.failed++;
      await sleep(50);
    }
  })();
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
        change.respondedAt = now();
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
  probing.on = false;
  await probing$;
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

  // 7. Write cost of the trigger, in SQL, interleaved rounds, with the sockets closed (their
  // deliveries would load the machine the timing runs on).
  for (const child of clients) if (child.connected) child.send({ type: 'stop' });
  await sleep(1000);
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
  probe.latencies.sort((a, b) => a - b);
  probe.health.sort((a, b) => a - b);
  const result = {
    date: new Date().toISOString(),
    sockets: acked,
    socketsAsked: sockets,
    users: USERS,
    socketsPerUser: PER_USER,
    clientProcesses: CLIENT_PROCESSES,
    openSeconds: Math.round(openSeconds),
    upgradesRefused: refusedUpgrades,
    serverOpenFiles: { before: filesBefore, after: filesAfter },
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
      p50: round1(percentile(latencies, 50)),
      p90: round1(percentile(latencies, 90)),
      p99: round1(percentile(latencies, 99)),
      max: round1(latencies.at(-1) ?? NaN),
      deliveredBeforeResponse: latencies.filter((l) => l < 0).length,
    },
    /** Another user's `tasks(first: 20)` and `/healthz` every 50 ms during the load. */
    http: {
      answered: probe.latencies.length + probe.health.length,
      failed: probe.failed,
      pageP50Ms: round1(percentile(probe.latencies, 50)),
      pageP99Ms: round1(percentile(probe.latencies, 99)),
      healthzMaxMs: round1(probe.health.at(-1) ?? NaN),
    },
    serverRssMiB: { before: Math.round(rssBefore), after: Math.round(rssAfter), peak: Math.round(rssMiB(pid)) },
    serverHeapUsedMiB: { before: Math.round(heapBefore.used), after: Math.round(heapAfter.used) },
    memoryPerSocketKiB: round1(perSocketKiB),
    heapPerSocketKiB: round1(heapPerSocketKiB),
    externalPerSocketKiB: round1(externalPerSocketKiB),
    triggerUpdateUs: { withTrigger: round1(mean(withTrigger)), withoutTrigger: round1(mean(withoutTrigger)) },
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const lines = [
    '| sockets | changes/s | server CPU % | load avg | deliveries | p50 ms | p90 ms | p99 ms | max ms | lost | misdelivered | HTTP p50 / p99 ms (failed) | KiB/socket RSS (heap) | update µs (trigger / none) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${result.sockets} | ${result.achievedRate} | ${serverCpuPercent} | ${result.loadAverage} | ${result.deliveries} | ${result.latencyMs.p50} | ${result.latencyMs.p90} | ${result.latencyMs.p99} | ${result.latencyMs.max} | ${lost} | ${misdelivered} | ${result.http.pageP50Ms} / ${result.http.pageP99Ms} (${result.http.failed}) | ${result.memoryPerSocketKiB} (${result.heapPerSocketKiB}) | ${result.triggerUpdateUs.withTrigger} / ${result.triggerUpdateUs.withoutTrigger} |`,
  ];
  console.log(lines.join('\n'));
  const dir = path.join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `subscriptions-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`written to ${path.relative(projectRoot, file)}`);
  const ok =
    lost === 0 &&
    misdelivered === 0 &&
    failures === 0 &&
    duplicates === 0 &&
    acked === sockets &&
    primedSockets === acked &&
    probe.failed === 0 &&
    result.latencyMs.p99 <= 100;
  if (!ok) log('FAILED: events lost, misdelivered or late (p99 > 100 ms), sockets or subscriptions not in place, or HTTP failing');
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
