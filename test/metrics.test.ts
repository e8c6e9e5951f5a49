import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { projectRoot } from '../src/config.ts';
import { freePort } from '../src/db/embedded.ts';
import { CreateTaskDocument, MeDocument, TaskEventsDocument, TasksDocument } from './generated/graphql.ts';
import { execute, expectData } from './support/graphql.ts';
import { postGraphQL, bearer } from './support/http.ts';
import { connected, eventually, liveClient, subscribe } from './support/live.ts';
import { hasPrometheus, hasPromtool, parseSamples, promtool, promtoolCheck, startPrometheus, valueOf, type Sample } from './support/prometheus.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/** Requests a minute per user (the production default): the rate-limit test spends it, with a user of its own. */
const RATE_LIMIT = 600;

let server: TestServer;
let metricsPort: number;
let metricsUrl: string;
let user: TestUser;

beforeAll(async () => {
  metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  server = await startServer({ METRICS_PORT: String(metricsPort), RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) });
  user = await signUp(server.url);
});

afterAll(async () => {
  await server.stop();
});

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parseSamples(text) };
}

/** Series of the application's own families (the process metrics' may come and go with the runtime's state). */
const applicationSeries = (samples: Sample[]) =>
  samples.filter((s) => /^(graphql_|http_server_|db_pool_|db_page_|task_event)/.test(s.name)).map((s) => `${s.name}${JSON.stringify(s.labels)}`);

describe('Prometheus metrics', () => {
  it('are served on METRICS_PORT only, never on the public port', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    const other = await fetch(`http://127.0.0.1:${metricsPort}/`);
    expect(other.status).toBe(404);
    await other.text();
    await scrape();
  });

  it('count operations by type and the code the client received, and time them', async () => {
    const before = (await scrape()).samples;
    const count = (samples: Sample[], type: string, outcome: string) =>
      valueOf(samples, 'graphql_operations_total', { operation_type: type, outcome }) ?? 0;

    await expectData(server.graphqlUrl, TasksDocument, { first: 5 }, user.token);
    await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'counted' } }, user.token);
    // Refused while building the context (Apollo's plugins never see it): still an operation.
    expect((await postGraphQL(server.graphqlUrl, 'mutation { deleteTask(id: "x") }', bearer('not-a-token'))).status).toBe(401);
    // Not signed in: the @auth directive refuses the field.
    expect((await execute(server.graphqlUrl, MeDocument)).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    // Refused by validation: what the client sees is the limit's code.
    const tooDeep = await postGraphQL(
      server.graphqlUrl,
      `query { tasks { nodes { id } } __typename ${'a: __typename '.repeat(40)} }`,
      bearer(user.token),
    );
    expect(tooDeep.body.errors?.[0]?.extensions?.['code']).toBe('TOO_MANY_ALIASES');
    // Does not even parse: typed by its first keyword.
    expect((await postGraphQL(server.graphqlUrl, 'mutation {', bearer(user.token))).status).toBe(400);

    const after = (await scrape()).samples;
    expect(count(after, 'query', 'ok') - count(before, 'query', 'ok')).toBe(1);
    expect(count(after, 'mutation', 'ok') - count(before, 'mutation', 'ok')).toBe(1);
    expect(count(after, 'mutation', 'UNAUTHENTICATED') - count(before, 'mutation', 'UNAUTHENTICATED')).toBe(1);
    expect(count(after, 'query', 'UNAUTHENTICATED') - count(before, 'query', 'UNAUTHENTICATED')).toBe(1);
    expect(count(after, 'query', 'TOO_MANY_ALIASES') - count(before, 'query', 'TOO_MANY_ALIASES')).toBe(1);
    expect(count(after, 'mutation', 'GRAPHQL_PARSE_FAILED') - count(before, 'mutation', 'GRAPHQL_PARSE_FAILED')).toBe(1);
    const durations = (samples: Sample[], type: string) =>
      valueOf(samples, 'graphql_operation_duration_seconds_count', { operation_type: type }) ?? 0;
    expect(durations(after, 'query') - durations(before, 'query')).toBe(3);
    expect(durations(after, 'mutation') - durations(before, 'mutation')).toBe(3);
    // Every label is one of the documented values.
    for (const s of after.filter((x) => x.name.startsWith('graphql_operation'))) {
      expect(['query', 'mutation', 'subscription']).toContain(s.labels['operation_type']);
    }
  });

  it('count requests refused by the rate limit as RATE_LIMITED', async () => {
    const spender = await signUp(server.url);
    const before = valueOf((await scrape()).samples, 'graphql_operations_total', { operation_type: 'query', outcome: 'RATE_LIMITED' }) ?? 0;
    let refused = 0;
    for (let i = 0; i < RATE_LIMIT + 50; i += 50) {
      const statuses = await Promise.all(
        Array.from({ length: 50 }, async () => (await postGraphQL(server.graphqlUrl, '{ me { id } }', bearer(spender.token))).status),
      );
      refused += statuses.filter((s) => s === 429).length;
    }
    expect(refused).toBeGreaterThan(0);
    const after = valueOf((await scrape()).samples, 'graphql_operations_total', { operation_type: 'query', outcome: 'RATE_LIMITED' }) ?? 0;
    expect(after - before).toBe(refused);
  });

  it('time HTTP requests by fixed route and status', async () => {
    const before = (await scrape()).samples;
    await (await fetch(`${server.url}/healthz`)).text();
    await (await fetch(`${server.url}/readyz`)).text();
    await (await fetch(`${server.url}/no/such/path`)).text();
    await (await fetch(`${server.url}/api/auth/get-session`)).text();
    const after = (await scrape()).samples;
    const count = (samples: Sample[], route: string, status: string) =>
      valueOf(samples, 'http_server_request_duration_seconds_count', { route, status_code: status }) ?? 0;
    expect(count(after, '/healthz', '200') - count(before, '/healthz', '200')).toBe(1);
    expect(count(after, '/readyz', '200') - count(before, '/readyz', '200')).toBe(1);
    expect(count(after, 'other', '404') - count(before, 'other', '404')).toBe(1);
    expect(count(after, '/api/auth', '200') - count(before, '/api/auth', '200')).toBe(1);
    // Buckets in seconds, cumulative up to +Inf.
    expect(valueOf(after, 'http_server_request_duration_seconds_bucket', { route: '/healthz', status_code: '200', le: '+Inf' })).toBe(
      count(after, '/healthz', '200'),
    );
    for (const s of after.filter((x) => x.name.startsWith('http_server_'))) {
      expect(['/graphql', '/api/auth', '/healthz', '/readyz', 'other']).toContain(s.labels['route']);
    }
  });

  it("show both pools' connections, open sockets, and delivered task events", async () => {
    const owner = await signUp(server.url);
    const live = liveClient(server.graphqlUrl, () => owner.token);
    try {
      await connected(live);
      const sub = subscribe(live, TaskEventsDocument);
      const before = (await scrape()).samples;
      expect(valueOf(before, 'graphql_ws_connections')).toBeGreaterThanOrEqual(1);
      for (const pool of ['app', 'auth']) {
        for (const state of ['idle', 'used', 'waiting']) expect(valueOf(before, 'db_pool_connections', { pool, state })).toBeGreaterThanOrEqual(0);
      }
      expect(
        valueOf(before, 'db_pool_connections', { pool: 'app', state: 'idle' })! +
          valueOf(before, 'db_pool_connections', { pool: 'app', state: 'used' })!,
      ).toBeGreaterThan(0);

      // The subscription is set up once its first event can arrive: keep writing until one does.
      await eventually(
        async () => {
          await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'live' } }, owner.token);
          return sub.results.length > 0 ? true : undefined;
        },
        10_000,
        'a task event',
      );
      const delivered = sub.results.length;
      const after = await eventually(
        async () => {
          const { samples } = await scrape();
          const n = valueOf(samples, 'task_events_delivered_total') ?? 0;
          return n - (valueOf(before, 'task_events_delivered_total') ?? 0) >= delivered ? samples : undefined;
        },
        5_000,
        'the delivery to be counted',
      );
      expect(valueOf(after, 'task_event_delivery_seconds_count')).toBe(valueOf(after, 'task_events_delivered_total'));
      expect(valueOf(after, 'graphql_operations_total', { operation_type: 'subscription', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    } finally {
      await live.dispose();
    }
    const closed = await eventually(
      async () => {
        const n = valueOf((await scrape()).samples, 'graphql_ws_connections');
        return n === 0 ? n : undefined;
      },
      5_000,
      'the socket to be uncounted',
    );
    expect(closed).toBe(0);
  });

  it('leave log lines with the request id and without trace ids while tracing is off', async () => {
    const res = await fetch(`${server.url}/healthz`);
    await res.text();
    const id = res.headers.get('x-request-id');
    const line = await eventually(() => server.logs.find((l) => (l['req'] as { id?: unknown } | undefined)?.id === id), 5_000, 'the request line');
    expect(line['requestId']).toBe(id);
    expect(server.logs.some((l) => 'trace_id' in l || 'span_id' in l)).toBe(false);
  });

  it("include Node's process metrics", async () => {
    const { text, samples } = await scrape();
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
  });

  it('take no label value from clients: 500 operation names and 500 paths add no series', async () => {
    // One of each kind first, so that their (fixed) series exist.
    await postGraphQL(server.graphqlUrl, 'query Warm { __typename }', bearer(user.token));
    await (await fetch(`${server.url}/warm-up-path`)).text();
    const { samples: before } = await scrape();
    const names: string[] = [];
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const name = `ClientChosen${i + j}x${Math.random().toString(36).slice(2, 8)}`;
          names.push(name);
          await postGraphQL(server.graphqlUrl, `query ${name} { __typename }`, bearer(user.token));
          await (await fetch(`${server.url}/p/${name}`)).text();
        }),
      );
    }
    const { text, samples: after } = await scrape();
    expect(applicationSeries(after)).toEqual(applicationSeries(before));
    for (const name of names) expect(text).not.toContain(name);
  });

  (hasPromtool ? it : it.skip)('pass `promtool check metrics` without a warning', async () => {
    const { text } = await scrape();
    expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });

  it("are what the repository's Grafana dashboard queries, in valid PromQL", async () => {
    const dashboard = JSON.parse(readFileSync(path.join(projectRoot, 'examples/observability/grafana/dashboards/taskgraph.json'), 'utf8')) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const { text } = await scrape();
    const families = new Set([...text.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]!));
    for (const expr of exprs) {
      for (const name of expr.match(/\b(graphql|http|db|task|process|nodejs)_\w+/g) ?? []) {
        expect([name, name.replace(/_(bucket|count|sum)$/, '')].some((n) => families.has(n))).toBe(true);
      }
    }
    if (!hasPromtool) return;
    // Each expression, with Grafana's variables filled in, as a recording rule promtool parses.
    const dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-rules-'));
    try {
      const rules = exprs.map(
        (e, i) =>
          `      - record: panel:${i}\n        expr: ${JSON.stringify(e.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*'))}`,
      );
      writeFileSync(path.join(dir, 'rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const check = promtool(['check', 'rules', path.join(dir, 'rules.yml')]);
      expect(check.output).toContain('SUCCESS');
      expect(check.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  (hasPrometheus ? it : it.skip)('are scraped by a real Prometheus server', async () => {
    const prometheus = await startPrometheus(`127.0.0.1:${metricsPort}`);
    try {
      const up = await eventually(
        async () => {
          const result = await prometheus.query('up{job="taskgraph"}').catch(() => []);
          return result[0]?.value[1] === '1' ? result : undefined;
        },
        30_000,
        () => `Prometheus to scrape the server; its output:\n${prometheus.output()}`,
      );
      expect(up).toHaveLength(1);
      const ops = await prometheus.query('sum by (operation_type) (graphql_operations_total{outcome="ok"})');
      expect(ops.map((r) => r.metric['operation_type']).sort()).toEqual(expect.arrayContaining(['mutation', 'query']));
      const graphql = await prometheus.query('sum(http_server_request_duration_seconds_count{route="/graphql"})');
      expect(Number(graphql[0]?.value[1])).toBeGreaterThan(0);
    } finally {
      await prometheus.stop();
    }
  });
});
