import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { TracesSampler, TracingConfig } from '../config.ts';
import type { Logger, TraceIds } from '../logger.ts';
import type { OperationType, Route } from './metrics.ts';

export type { Span, SpanContext };

// GraphQL's attributes are still "development" in the semantic conventions: not exported as stable.
const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';

/** The parts of an incoming request an HTTP server span describes. */
export interface HttpRequestInfo {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  httpVersion: string;
  socket: { remoteAddress?: string | undefined };
}

/** Where a PostgreSQL query runs (node-postgres's Client has these). */
export interface DatabaseTarget {
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
}

/**
 * Spans of this server, made by hand where the work happens (no monkey-patching: the server runs
 * as native ESM, and graphql-jit's execution is invisible to the GraphQL instrumentation):
 * the HTTP server span, the GraphQL operation span, one span per PostgreSQL query and one per
 * subscription event delivered. Exists only when tracing is configured: every call site checks
 * for it first, so tracing off costs a null check.
 */
export interface Tracing {
  /** The server span of an HTTP request, continuing the caller's trace from `traceparent`. */
  httpSpan(req: HttpRequestInfo, route: Route): Span;
  endHttpSpan(span: Span, statusCode: number): void;
  /** A GraphQL operation, named `query`, `mutation` or `subscription` (the semantic conventions' name without the client-chosen operation name). */
  operationSpan(parent: TraceIds | undefined, type: OperationType, operationName: string | undefined, startTime?: number): Span;
  /** Ends an operation span; `outcome` is `ok` or the error code the client got. */
  endOperationSpan(span: Span, outcome: string, endTime?: number): void;
  /** A PostgreSQL query, child of `parent`. */
  querySpan(parent: TraceIds, text: string, target: DatabaseTarget): Span;
  endQuerySpan(span: Span, err: unknown): void;
  /**
   * A subscription event, from its change reaching this instance (`performance.now()` time) to its write
   * on the socket, linked to the span that set the subscription up.
   */
  deliverySpan(receivedAt: number, subscription: SpanContext | undefined, operationName: string | undefined): void;
  /** Exports what is queued (bounded by OTEL_BSP_EXPORT_TIMEOUT) and stops. */
  shutdown(): Promise<void>;
}

function sampler(name: TracesSampler, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Headers as OpenTelemetry's propagator reads them. */
const headerGetter = {
  get: (carrier: IncomingHttpHeaders, key: string) => carrier[key],
  keys: (carrier: IncomingHttpHeaders) => Object.keys(carrier),
};

/** `SELECT task`, `INSERT task`...: the low-cardinality name the semantic conventions ask for. */
const summaries = new Map<string, { operation: string; summary: string }>();
const MAX_SUMMARIES = 1_000;
function summarize(text: string): { operation: string; summary: string } {
  let known = summaries.get(text);
  if (known) return known;
  const operation = (/^\s*(?:\/\*[\s\S]*?\*\/\s*)?(\w+)/.exec(text)?.[1] ?? 'query').toUpperCase();
  const table = /\b(?:from|into|update|join)\s+"?([A-Za-z_][\w]*)"?/i.exec(text)?.[1];
  known = { operation, summary: table ? `${operation} ${table}` : operation };
  if (summaries.size < MAX_SUMMARIES) summaries.set(text, known);
  return known;
}

export function createTracing(config: TracingConfig, logger: Logger): Tracing {
  const exporterOptions = { url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs };
  const exporter = config.protocol === 'http/json' ? new JsonExporter(exporterOptions) : new ProtobufExporter(exporterOptions);
  const provider = new TracerProvider({
    resource: resourceFromAttributes(config.resource),
    sampler: sampler(config.sampler.name, config.sampler.ratio),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: config.batch.scheduledDelayMs,
        exportTimeoutMillis: config.batch.exportTimeoutMs,
        maxQueueSize: config.batch.maxQueueSize,
        maxExportBatchSize: config.batch.maxExportBatchSize,
      }),
    ],
  });
  const tracer: Tracer = provider.getTracer('taskgraph');
  const propagator = new W3CTraceContextPropagator();
  // A span of this process as the parent (the sampling decision travels in its flags).
  const parented = (parent: TraceIds | undefined) => {
    if (!parent) return ROOT_CONTEXT;
    const { traceId, spanId, traceFlags } = parent.spanContext();
    return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags });
  };
  // performance.now() times (monotonic) as the wall-clock milliseconds spans are stamped with.
  const wallClock = (monotonic: number) => performance.timeOrigin + monotonic;
  logger.info(
    { endpoint: config.url, protocol: config.protocol, sampler: config.sampler.name, service: config.resource['service.name'] },
    'exporting traces over OTLP',
  );

  return {
    httpSpan(req, route) {
      const method = req.method && KNOWN_METHODS.has(req.method) ? req.method : '_OTHER';
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const attributes: Attributes = {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_URL_PATH]: q === -1 ? url : url.slice(0, q),
        [ATTR_URL_SCHEME]: 'http',
        [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
      };
      if (route !== 'other') attributes[ATTR_HTTP_ROUTE] = route;
      if (req.socket.remoteAddress) attributes[ATTR_CLIENT_ADDRESS] = req.socket.remoteAddress;
      const agent = req.headers['user-agent'];
      if (agent) attributes[ATTR_USER_AGENT_ORIGINAL] = agent;
      // A caller's `traceparent` (W3C Trace Context) makes this span a child of the caller's.
      const parent = req.headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
      const name = route === 'other' ? (method === '_OTHER' ? 'HTTP' : method) : `${method === '_OTHER' ? 'HTTP' : method} ${route}`;
      return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    },
    endHttpSpan(span, statusCode) {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
      // A server span is an error only when the server failed (4xx are the client's).
      if (statusCode >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(statusCode));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
    operationSpan(parent, type, operationName, startTime) {
      const attributes: Attributes = { [ATTR_GRAPHQL_OPERATION_TYPE]: type };
      if (operationName) attributes[ATTR_GRAPHQL_OPERATION_NAME] = operationName;
      return tracer.startSpan(
        type,
        { kind: SpanKind.INTERNAL, attributes, ...(startTime === undefined ? {} : { startTime: wallClock(startTime) }) },
        parented(parent),
      );
    },
    endOperationSpan(span, outcome, endTime) {
      if (outcome !== 'ok') {
        span.setAttribute(ATTR_ERROR_TYPE, outcome);
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      }
      span.end(endTime === undefined ? undefined : wallClock(endTime));
    },
    querySpan(parent, text, target) {
      const { operation, summary } = summarize(text);
      const attributes: Attributes = {
        [ATTR_DB_SYSTEM_NAME]: 'postgresql',
        [ATTR_DB_OPERATION_NAME]: operation,
        [ATTR_DB_QUERY_SUMMARY]: summary,
        // Parameterised text only: values travel apart ($1, $2...), never in a span.
        [ATTR_DB_QUERY_TEXT]: text,
      };
      if (target.database) attributes[ATTR_DB_NAMESPACE] = target.database;
      if (target.host) attributes[ATTR_SERVER_ADDRESS] = target.host;
      if (target.port) attributes[ATTR_SERVER_PORT] = target.port;
      return tracer.startSpan(summary, { kind: SpanKind.CLIENT, attributes }, parented(parent));
    },
    endQuerySpan(span, err) {
      if (err !== undefined) {
        const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
        span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : err instanceof Error ? err.name : 'error');
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    },
    deliverySpan(receivedAt, subscription, operationName) {
      const links: Link[] = subscription ? [{ context: subscription }] : [];
      const attributes: Attributes = { [ATTR_GRAPHQL_OPERATION_TYPE]: 'subscription' };
      if (operationName) attributes[ATTR_GRAPHQL_OPERATION_NAME] = operationName;
      // A trace of its own (the write that caused it ran in another request, maybe another
      // instance), linked to the subscription's set-up.
      tracer.startSpan('subscription event', { kind: SpanKind.PRODUCER, attributes, links, startTime: wallClock(receivedAt), root: true }).end();
    },
    async shutdown() {
      await provider.shutdown().catch((err: unknown) => logger.warn({ err }, 'could not export the last spans'));
    },
  };
}

/**
 * PostgreSQL spans for db/connection.ts's QueryObserver: a query sent while a span is current (a
 * request's) gets a child span; queries outside requests (start-up, migrations) get none.
 */
export function tracedQueries(tracing: Tracing, current: () => TraceIds | undefined) {
  return {
    start(text: string, target: DatabaseTarget) {
      const parent = current();
      if (!parent) return undefined;
      const span = tracing.querySpan(parent, text, target);
      return (err?: unknown) => tracing.endQuerySpan(span, err);
    },
  };
}
