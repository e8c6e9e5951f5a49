import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin, GraphQLResponse } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { logScope } from '../logger.ts';
import type { Metrics, OperationType } from '../telemetry/metrics.ts';
import type { Span, SpanContext, Tracing } from '../telemetry/tracing.ts';
import { ErrorCode, formatError } from './errors.ts';

/**
 * Every value `outcome` can take besides `ok`: the codes this API and Apollo Server answer with.
 * A code outside it (none is expected: formatError masks unknown errors) is counted as `other`,
 * so that no client can add series.
 */
const OUTCOMES = new Set<string>([...Object.values(ErrorCode), ...Object.values(ApolloServerErrorCode)]);

/** The `outcome` label of an operation whose first error carries `code` (`ok` without errors). */
export function operationOutcome(errors: ReadonlyArray<{ extensions?: Record<string, unknown> | undefined }> | undefined): string {
  const first = errors?.[0];
  if (!first) return 'ok';
  const code = first.extensions?.['code'];
  return typeof code === 'string' && OUTCOMES.has(code) ? code : 'other';
}

/** The code the client receives for an error thrown outside execution (the context), as formatError gives it. */
export function refusalOutcome(err: unknown): string {
  const error =
    err instanceof GraphQLError ? err : new GraphQLError(err instanceof Error ? err.message : String(err), { originalError: err as Error });
  return operationOutcome([formatError(error.toJSON(), error)]);
}

// Leading insignificant tokens of a document: whitespace, commas, comments, a byte order mark.
const FIRST_KEYWORD = /^(?:[\s,\uFEFF]|#[^\n\r]*)*(mutation|subscription)\b/;

/**
 * The type of an operation Apollo could not resolve (it did not parse, or the request was refused
 * before parsing): its first keyword, `query` for a shorthand `{ ... }` or anything unreadable.
 */
export function operationTypeOf(text: unknown): OperationType {
  if (typeof text !== 'string') return 'query';
  const keyword = FIRST_KEYWORD.exec(text)?.[1];
  return keyword === 'mutation' || keyword === 'subscription' ? keyword : 'query';
}

/** The query text of an HTTP GraphQL request: a POST body's `query`, or a GET's `?query=`. */
function queryText(body: unknown, search: string): unknown {
  if (body && typeof body === 'object') return (body as { query?: unknown }).query;
  return search ? new URLSearchParams(search).get('query') : undefined;
}

const seconds = (since: number) => (performance.now() - since) / 1000;

export interface OperationTelemetry {
  /** Records every operation Apollo runs or refuses: its outcome, duration and span. */
  plugin: ApolloServerPlugin;
  /** Runs an operation's execution inside its span (for the spans of its queries); undefined when tracing is off. */
  aroundExecution: (<T>(contextValue: object, run: () => Promise<T>) => Promise<T>) | undefined;
  /** A request refused while building its context (401, 429, 503), which Apollo's plugins never see. */
  contextFailed: (err: unknown, body: unknown, search: string) => void;
  /** An operation refused by the trusted documents with `code`, before Apollo. */
  documentRefused: (code: string, body: unknown, search: string) => void;
}

/**
 * The one place that records what happened to an HTTP GraphQL operation, from what the client
 * received: `graphql_operations_total{operation_type, outcome}`, its duration (from the request's
 * arrival to the response), and its span (`query`, `mutation`, `subscription`). Subscriptions over
 * WebSocket are recorded by src/http/websocket.ts with the same outcome rule.
 */
export function operationTelemetry(metrics: Pick<Metrics, 'operation'> | undefined, tracing: Tracing | undefined): OperationTelemetry {
  // The operation span of a request, for its execution (the executor receives the same context object).
  const spans = new WeakMap<object, Span>();
  const startedAt = () => logScope.getStore()?.startedAt ?? performance.now();

  const plugin: ApolloServerPlugin = {
    requestDidStart({ contextValue }) {
      const started = startedAt();
      const parent = logScope.getStore()?.span;
      let span: Span | undefined;
      return Promise.resolve({
        didResolveOperation({ operation, operationName }) {
          if (tracing && operation) {
            // From the request's arrival: parsing, validation and the context are part of it.
            span = tracing.operationSpan(parent, operation.operation, operationName ?? undefined, started);
            spans.set(contextValue, span);
          }
          return Promise.resolve();
        },
        willSendResponse({ response, operation, request }) {
          const type = operation?.operation ?? operationTypeOf(request.query);
          const outcome = operationOutcome(errorsOf(response));
          metrics?.operation(type, outcome, seconds(started));
          if (span) tracing?.endOperationSpan(span, outcome);
          return Promise.resolve();
        },
      });
    },
  };

  /** An operation refused before Apollo: counted, timed and given its span like the others. */
  const refused = (type: OperationType, outcome: string) => {
    const started = startedAt();
    metrics?.operation(type, outcome, seconds(started));
    if (tracing) tracing.endOperationSpan(tracing.operationSpan(logScope.getStore()?.span, type, undefined, started), outcome);
  };

  return {
    plugin,
    aroundExecution: tracing
      ? (contextValue, run) => {
          const span = spans.get(contextValue);
          const scope = logScope.getStore();
          return span && scope ? logScope.run({ ...scope, span }, run) : run();
        }
      : undefined,
    contextFailed(err, body, search) {
      refused(operationTypeOf(queryText(body, search)), refusalOutcome(err));
    },
    documentRefused(code, body, search) {
      refused(operationTypeOf(queryText(body, search)), operationOutcome([{ extensions: { code } }]));
    },
  };
}

function errorsOf(response: GraphQLResponse): ReadonlyArray<{ extensions?: Record<string, unknown> | undefined }> | undefined {
  if (response.body.kind === 'single') return response.body.singleResult.errors;
  return response.body.initialResult.errors;
}

/** What src/http/websocket.ts reports of subscriptions. */
export interface SocketTelemetry {
  /** A subscription set up (`ok`) or refused (the code the client got); `startedAt` is when its subscribe message arrived. */
  operation(outcome: string, startedAt: number, operationName: string | undefined, args?: ExecutionArgs): void;
  /** An event's message was written to the socket; its root value carries `receivedAt` (TaskEventRecord). */
  delivered: (rootValue: unknown, args: ExecutionArgs) => void;
}

/**
 * Subscriptions' side of operationTelemetry: the operation (set up or refused, with the same
 * outcome rule as HTTP), and for each event written to a socket, `task_events_delivered_total`, the
 * time since this instance read its change from the log, and a span linked to the subscription's own.
 */
export function subscriptionTelemetry(
  metrics: Pick<Metrics, 'operation' | 'taskEventDelivered'> | undefined,
  tracing: Tracing | undefined,
): SocketTelemetry {
  const subscriptions = new WeakMap<ExecutionArgs, SpanContext>();
  return {
    operation(outcome, startedAt, operationName, args) {
      metrics?.operation('subscription', outcome, seconds(startedAt));
      if (!tracing) return;
      const span = tracing.operationSpan(undefined, 'subscription', operationName, startedAt);
      tracing.endOperationSpan(span, outcome);
      if (args) subscriptions.set(args, span.spanContext());
    },
    delivered(rootValue, args) {
      const receivedAt = (rootValue as { receivedAt?: unknown } | null | undefined)?.receivedAt;
      if (typeof receivedAt !== 'number') return;
      metrics?.taskEventDelivered(seconds(receivedAt));
      tracing?.deliverySpan(receivedAt, subscriptions.get(args), args.operationName ?? undefined);
    },
  };
}
