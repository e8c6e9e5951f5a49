import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The GraphQL operation types: the only values of `operation_type`. */
export type OperationType = 'query' | 'mutation' | 'subscription';

/** The server's fixed routes: the only values of `route` (anything else is `other`). */
export type Route = '/graphql' | '/api/auth' | '/healthz' | '/readyz' | 'other';

/** What refuses new work while the server is saturated (`route` of requests shed). */
export type ShedRoute = '/graphql' | '/api/auth' | 'websocket';
/** Which measure of saturation was past its bound (`reason` of requests shed). */
export type ShedReason = 'event_loop' | 'database';

/** The task writes that are batched (`operation` of db_write_batch_size). */
export type WriteOperation = 'create' | 'update';

/** The pools whose connections are counted (`pool` label). */
export type PoolName = 'app' | 'auth';

/** What a pool tells about its connections (node-postgres's `pg.Pool` has exactly these). */
export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/**
 * The application's Prometheus metrics. Every label value comes from a fixed set chosen by the
 * server (routes, operation types, error codes, status codes), never from what a client sends, so
 * the number of series is bounded whatever the traffic: see docs/observability.md.
 */
export interface Metrics {
  /** One HTTP request answered (or abandoned by its client), on one of the fixed routes. */
  httpRequest(route: Route, statusCode: number, seconds: number): void;
  /** One request (or WebSocket upgrade) refused because the server was saturated: see src/http/overload.ts. */
  shed(route: ShedRoute, reason: ShedReason): void;
  /** One GraphQL operation done: `outcome` is `ok` or the code of its first error, from a fixed set. */
  operation(type: OperationType, outcome: string, seconds: number): void;
  /** One task event written to a subscriber's socket, `seconds` after this instance read its change. */
  taskEventDelivered(seconds: number): void;
  /** One SQL query read `pages` pages of Query.tasks: 1 read alone, more batched (db/batcher.ts). */
  pageQuery(pages: number): void;
  /** One SQL statement wrote `writes` tasks (`operation` create or update): 1 alone, more batched (db/write-batcher.ts). */
  writeStatement(operation: WriteOperation, writes: number): void;
  /** Counts `pool`'s connections at every scrape. */
  watchPool(name: PoolName, pool: PoolCounts): void;
  /** Counts open WebSockets at every scrape. */
  watchSockets(count: () => number): void;
  /** Counts task writes waiting for their turn at every scrape. */
  watchWrites(waiting: () => number): void;
  /** Page reads waiting for their turn (db_pages_waiting). */
  watchPages(waiting: () => number): void;
  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string>;
  readonly contentType: string;
}

/**
 * Histogram buckets in seconds: from 1 ms (a cached read answers in a few) to 10 s (past the
 * statement timeout and every other bound of a request).
 */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * prom-client's process and Node.js metrics that promtool flags: gauges named like counters
 * (`_total`). `nodejs_active_resources{type}` counts the same handles and requests.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Resident memory, CPU, open file descriptors, heap, event loop lag and GC durations.
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);

  const operations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations by type and outcome: ok, or the extensions.code of the first error the client received.',
    labelNames: ['operation_type', 'outcome'] as const,
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'Time from a GraphQL request arriving to its response (subscriptions: until the subscription is set up).',
    labelNames: ['operation_type'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Time from an HTTP request arriving to its response being sent, by route (/graphql, /api/auth, /healthz, /readyz, other) and status.',
    labelNames: ['route', 'status_code'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const delivered = new Counter({
    name: 'task_events_delivered_total',
    help: "Task events written to subscribers' sockets.",
    registers: [registry],
  });
  const deliveryDuration = new Histogram({
    name: 'task_event_delivery_seconds',
    help: "Time from a task change reaching this instance (read from the change log) to its event being written to a subscriber's socket.",
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  const shed = new Counter({
    name: 'http_requests_shed_total',
    help: 'Requests (route /graphql or /api/auth) and WebSocket upgrades (route websocket) refused with 503 before any work because the server was saturated, by the measure past its bound (reason event_loop or database).',
    labelNames: ['route', 'reason'] as const,
    registers: [registry],
  });
  const pageBatches = new Histogram({
    name: 'db_page_batch_size',
    help: 'Pages of Query.tasks read by one SQL query: 1 for a page read alone; more when pages of one shape that waited for a turn (DB_PAGE_CONCURRENCY) were read together.',
    // Up to the batcher's bound on pages per query (64).
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [registry],
  });

  const writeBatches = new Histogram({
    name: 'db_write_batch_size',
    help: 'Task writes (operation create or update) sent in one SQL statement: 1 for a write sent alone; more when writes that waited for a turn (DB_WRITE_CONCURRENCY) were sent together.',
    labelNames: ['operation'] as const,
    // Up to the write batcher's bound on writes per statement (64).
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [registry],
  });

  const shedSeries = new Map<string, { inc(): void }>();

  const pools = new Map<PoolName, PoolCounts>();
  new Gauge({
    name: 'db_pool_connections',
    help: 'PostgreSQL pool connections: idle, used (checked out), and waiting (requests queued for a connection).',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      for (const [name, pool] of pools) {
        this.set({ pool: name, state: 'idle' }, pool.idleCount);
        this.set({ pool: name, state: 'used' }, pool.totalCount - pool.idleCount);
        this.set({ pool: name, state: 'waiting' }, pool.waitingCount);
      }
    },
  });
  let writesWaiting: () => number = () => 0;
  new Gauge({
    name: 'db_writes_waiting',
    help: 'Task writes (createTask, updateTask without text) waiting for a turn to be sent, while DB_WRITE_CONCURRENCY statements are in flight; they go together when one comes back.',
    registers: [registry],
    collect() {
      this.set(writesWaiting());
    },
  });
  let pagesWaiting: () => number = () => 0;
  new Gauge({
    name: 'db_pages_waiting',
    help: 'Page reads (Query.tasks) waiting for a turn, while DB_PAGE_CONCURRENCY page queries are in flight or their user has a share in flight; those of one shape go together when a turn comes.',
    registers: [registry],
    collect() {
      this.set(pagesWaiting());
    },
  });
  let sockets: () => number = () => 0;
  new Gauge({
    name: 'graphql_ws_connections',
    help: 'Open GraphQL WebSocket connections (acknowledged or not).',
    registers: [registry],
    collect() {
      this.set(sockets());
    },
  });

  return {
    httpRequest(route, statusCode, seconds) {
      httpDuration.observe({ route, status_code: statusCode }, seconds);
    },
    shed(route, reason) {
      // Bound children: a refusal should cost next to nothing, and there are six series at most.
      const key = `${route} ${reason}`;
      let child = shedSeries.get(key);
      if (!child) shedSeries.set(key, (child = shed.labels({ route, reason })));
      child.inc();
    },
    operation(type, outcome, seconds) {
      operations.inc({ operation_type: type, outcome });
      operationDuration.observe({ operation_type: type }, seconds);
    },
    taskEventDelivered(seconds) {
      delivered.inc();
      deliveryDuration.observe(seconds);
    },
    pageQuery(pages) {
      pageBatches.observe(pages);
    },
    writeStatement(operation, writes) {
      writeBatches.observe({ operation }, writes);
    },
    watchPool(name, pool) {
      pools.set(name, pool);
    },
    watchSockets(count) {
      sockets = count;
    },
    watchWrites(waiting) {
      writesWaiting = waiting;
    },
    watchPages(waiting) {
      pagesWaiting = waiting;
    },
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string;
  close(): Promise<void>;
}

/**
 * The metrics on a listener of their own (never on the public port): GET /metrics, 404 for
 * anything else. Kept apart so that a firewall or a Kubernetes NetworkPolicy can open it to the
 * scraper alone.
 */
export async function serveMetrics(metrics: Metrics, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res
        .writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8' })
        .end(path === '/metrics' ? 'use GET\n' : 'not found\n');
      return;
    }
    metrics.text().then(
      (text) =>
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('could not collect metrics\n'),
    );
  });
  // A scraper connects every few seconds; nothing else should keep connections here.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`METRICS_PORT ${port} is already in use on ${host}: choose another port, or METRICS_PORT=0 to turn metrics off`, {
              cause: err,
            })
          : err,
      ),
    );
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
