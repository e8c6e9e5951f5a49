import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import cors from 'cors';
import { logScope, REPEAT_WINDOW_MS, scopeFields, type Logger } from '../logger.ts';
import { ErrorCode, refusal } from '../graphql/errors.ts';
import type { Metrics, Route } from '../telemetry/metrics.ts';
import type { Span, Tracing } from '../telemetry/tracing.ts';
import { OVERLOAD_RETRY_AFTER_SECONDS, type GuardedRoute, type OverloadGuard, type ShedReason } from './overload.ts';
import { sendJson } from './respond.ts';

declare module 'node:http' {
  interface IncomingMessage {
    /** This request's id: in its log line, its errors' logs and the X-Request-Id header. */
    id?: string;
  }
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void;

export interface Routes {
  /** `/graphql`; `search` is the query string, `?` included (GET operations travel there). */
  graphql: (req: http.IncomingMessage, res: http.ServerResponse, search: string) => Promise<void>;
  /** Everything under `authBasePath`, when Better Auth runs in this process. */
  auth: Handler | undefined;
  authBasePath: string;
  /** Origins allowed to call `auth` from a browser, with credentials. */
  trustedOrigins: string[];
  /** Whether the server can serve requests now (its database answers). */
  ready: () => Promise<boolean>;
  /** Open connections of every kind, WebSockets included (see http/capacity.ts); new ones are dropped past it. */
  maxConnections: number;
  logger: Logger;
  /**
   * Refuses new `/graphql` and `/api/auth` requests while the server is saturated, before anything
   * is done for them (absent: shedding is off).
   */
  overload?: OverloadGuard | undefined;
  /** Request durations by route and status, and requests shed (absent: METRICS_PORT=0). */
  metrics?: Pick<Metrics, 'httpRequest' | 'shed'> | undefined;
  /** The HTTP server span of each request (absent unless tracing is configured). */
  tracing?: Pick<Tracing, 'httpSpan' | 'endHttpSpan'> | undefined;
}

/** The route a path belongs to, from a fixed set: a label value no client can invent. */
export function routeOf(pathname: string, authBasePath: string): Route {
  if (pathname === '/graphql') return '/graphql';
  if (pathname.startsWith(`${authBasePath}/`)) return '/api/auth';
  if (pathname === '/healthz' || pathname === '/readyz') return pathname;
  return 'other';
}

/**
 * Idle keep-alive connections live longer than a load balancer's (60 s on the common ones): if
 * the server closed first, the balancer could send a request into a closing socket (sporadic 502s).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Above the keep-alive timeout, as load balancer guides ask; bounds a slow sender of headers. */
export const HEADERS_TIMEOUT_MS = 66_000;
/** The whole request, headers and body; Node's default is 5 minutes. */
export const REQUEST_TIMEOUT_MS = 70_000;
/** Headers every answer carries. */
const COMMON_HEADERS: Array<[string, string]> = [['x-content-type-options', 'nosniff']];
/** Answer headers a browser script may read: the challenge, the request id, when to retry. */
const EXPOSED_HEADERS = ['WWW-Authenticate', 'X-Request-Id', 'Retry-After'];

/** What a client is told when its request is shed: the same for every shed request, so built once. */
const SHED_MESSAGE = `The server is too busy to take this request now and did nothing with it; retry in ${OVERLOAD_RETRY_AFTER_SECONDS} s.`;
const SHED_BODY: Record<GuardedRoute, string> = {
  '/graphql': JSON.stringify(refusal(503, ErrorCode.SERVICE_UNAVAILABLE, SHED_MESSAGE, OVERLOAD_RETRY_AFTER_SECONDS).body),
  // Better Auth's error shape, as its other refusals (see auth-handler.ts).
  '/api/auth': JSON.stringify({ message: SHED_MESSAGE, code: ErrorCode.SERVICE_UNAVAILABLE }),
};

/**
 * The HTTP surface: one node:http server routing `/graphql`, `/api/auth/*`, `/healthz` and
 * `/readyz`, with a request id and one log line per request.
 */
export function createHttpServer(routes: Routes): http.Server {
  const { logger } = routes;
  // A 503 from /readyz is an answer ("not ready": starting, or the database is away), not a failure:
  // an error with a stack per probe buried the log while starting. Its request line is info, like
  // every probe's; `ready` says why, once.
  const notReadyAnswers = new WeakSet<http.ServerResponse>();
  // One line per request when its response is done (or the client gave up on it), with the
  // request's id, also sent as X-Request-Id (and its trace and span ids when tracing is on). Written
  // directly rather than through pino-http, which built two child loggers per request to write the
  // same line. The request's duration goes to the metrics at the same moment.
  const { metrics, tracing } = routes;
  const logRequest = (req: http.IncomingMessage, res: http.ServerResponse, id: string, route: Route, span: Span | undefined, started: number) => {
    res.once('close', () => {
      const { statusCode } = res;
      const elapsed = performance.now() - started;
      metrics?.httpRequest(route, statusCode, elapsed / 1000);
      const line = {
        ...scopeFields({ requestId: id, span, startedAt: started }),
        req: { id, method: req.method, url: req.url },
        res: { statusCode },
        responseTime: Math.round(elapsed),
      };
      if (span) tracing?.endHttpSpan(span, statusCode);
      if (statusCode >= 500 && !notReadyAnswers.has(res))
        logger.error({ ...line, err: new Error(`failed with status code ${statusCode}`) }, 'request errored');
      else logger.info(line, 'request completed');
    });
  };
  // Bearer tokens, not cookies, authenticate /graphql, so any origin may call it (Apollo Sandbox,
  // a frontend on another host) without credentials. /api/auth uses cookies: trusted origins only.
  const graphqlCors = cors({ exposedHeaders: EXPOSED_HEADERS });
  const authCors = cors({ origin: routes.trustedOrigins, credentials: true, exposedHeaders: EXPOSED_HEADERS });

  const readiness = async (res: http.ServerResponse) => {
    if (await routes.ready()) {
      sendJson(res, 200, { status: 'ready' });
    } else {
      notReadyAnswers.add(res);
      sendJson(res, 503, { status: 'unavailable', reason: 'database unreachable' });
    }
  };

  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse, url: string, q: number, pathname: string) => {
    const fail = (err: unknown) => {
      logger.error({ err, url, requestId: req.id }, 'request failed');
      if (!res.headersSent)
        sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] });
      else res.destroy();
    };
    if (pathname === '/graphql') {
      // Every answer is for one caller (or depends on the token): never stored by a cache.
      res.setHeader('cache-control', 'no-store');
      const handle = () => void routes.graphql(req, res, q === -1 ? '' : url.slice(q)).catch(fail);
      // CORS headers are for browsers, which send Origin on every cross-origin request and preflight.
      if (req.headers.origin === undefined) handle();
      else graphqlCors(req, res, handle);
    } else if (routes.auth && pathname.startsWith(`${routes.authBasePath}/`)) {
      const handle = routes.auth;
      // Better Auth reads and parses the body itself.
      authCors(req, res, () => void Promise.resolve(handle(req, res)).catch(fail));
    } else if (pathname === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
    } else if (pathname === '/readyz') {
      readiness(res).catch(fail);
    } else {
      // /metrics too: metrics are served on METRICS_PORT only, never to the public.
      sendJson(res, 404, { error: 'not found' });
    }
  };

  // A shed request costs as little as can be: no request id, span or log line of its own (tens of
  // thousands a second may be refused); the metrics count it. The log has one warning when shedding
  // starts, with the measures, then a count every REPEAT_WINDOW_MS while it lasts, in the repeat
  // filter's words (logger.ts), counted here: the filter would cost a call per refusal.
  const { overload } = routes;
  const shedCounts = new Map<ShedReason, number>();
  let shedTimer: NodeJS.Timeout | undefined;
  const shedMessage = (reason: ShedReason) =>
    `overloaded (${reason === 'event_loop' ? 'event-loop delay' : 'queued database work'}): refusing new requests with 503`;
  const flushShedLog = () => {
    let any = false;
    for (const [reason, repeated] of shedCounts) {
      if (repeated === 0) continue;
      any = true;
      const windowMs = REPEAT_WINDOW_MS;
      logger.warn(
        { reason, repeated, windowMs, ...overload?.state() },
        `${shedMessage(reason)} (repeated ${repeated} times in the last ${windowMs / 1000} s)`,
      );
      shedCounts.set(reason, 0);
    }
    if (!any) {
      // Over: the next refusal starts a new episode with a line of its own.
      shedCounts.clear();
      clearInterval(shedTimer);
      shedTimer = undefined;
    }
  };
  const shed = (req: http.IncomingMessage, res: http.ServerResponse, route: GuardedRoute, reason: ShedReason, startedAt: number) => {
    const send = () => {
      const body = SHED_BODY[route];
      res
        .writeHead(503, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'retry-after': String(OVERLOAD_RETRY_AFTER_SECONDS),
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        })
        .end(body);
    };
    // A browser reads the refusal (and its Retry-After) only with the route's CORS headers.
    if (req.headers.origin === undefined) send();
    else (route === '/graphql' ? graphqlCors : authCors)(req, res, send);
    metrics?.httpRequest(route, 503, (performance.now() - startedAt) / 1000);
    metrics?.shed(route, reason);
    const count = shedCounts.get(reason);
    if (count === undefined) {
      logger.warn({ route, reason, ...overload?.state() }, shedMessage(reason));
      shedCounts.set(reason, 0);
      shedTimer ??= setInterval(flushShedLog, REPEAT_WINDOW_MS).unref();
    } else {
      shedCounts.set(reason, count + 1);
    }
  };

  // Timeouts are checked every connectionsCheckingInterval: 30 s by default, too coarse for them.
  const server = http.createServer(
    { connectionsCheckingInterval: 5_000, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    (req, res) => {
      const startedAt = performance.now();
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q === -1 ? url : url.slice(0, q);
      const route = routeOf(pathname, routes.authBasePath);
      // Before anything is done for the request: /healthz, /readyz and CORS preflights are never shed.
      if (overload && (route === '/graphql' || (route === '/api/auth' && routes.auth)) && req.method !== 'OPTIONS') {
        const reason = overload.check(route);
        if (reason) {
          shed(req, res, route, reason, startedAt);
          return;
        }
        res.once('close', () => overload.done(route));
      }
      const id = randomUUID();
      req.id = id;
      res.setHeader('x-request-id', id);
      for (const [name, value] of COMMON_HEADERS) res.setHeader(name, value);
      const span = tracing?.httpSpan(req, route);
      logRequest(req, res, id, route, span, startedAt);
      // Every line logged while handling the request carries its id (and span): see logger.ts.
      logScope.run({ requestId: id, span, startedAt }, dispatch, req, res, url, q, pathname);
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = routes.maxConnections;
  return server;
}
