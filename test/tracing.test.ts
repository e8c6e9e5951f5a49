import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { print } from 'graphql';
import { CreateTaskDocument, TaskEventsDocument, TasksDocument } from './generated/graphql.ts';
import { expectData } from './support/graphql.ts';
import { connected, eventually, liveClient, subscribe } from './support/live.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

// OTLP's SpanKind numbers.
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;

let receiver: OtlpReceiver;
let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  server = await startServer({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'taskgraph-under-test',
    // Export every 50 ms instead of every 5 s: the test waits for spans, not for a timer.
    OTEL_BSP_SCHEDULE_DELAY: '50',
  });
  user = await signUp(server.url);
});

afterAll(async () => {
  await server.stop();
  await receiver.close();
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** The spans of `traceId` once `ready` holds for them (the exporter sends them in batches). */
function spansOf(traceId: string, ready: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  return eventually(
    () => {
      const spans = receiver.spans.filter((s) => s.traceId === traceId);
      return ready(spans) ? spans : undefined;
    },
    10_000,
    () => `the spans of trace ${traceId}; received: ${JSON.stringify(receiver.spans.map((s) => [s.traceId, s.name]))}`,
  );
}

describe('OpenTelemetry traces (OTLP over HTTP, JSON)', () => {
  it('continue an incoming traceparent through the HTTP span, the operation span and each PostgreSQL query', async () => {
    const traceId = hex(16);
    const callerSpanId = hex(8);
    const res = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: JSON.stringify({ query: print(TasksDocument), variables: { first: 3 } }),
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    await res.text();

    const spans = await spansOf(
      traceId,
      (s) => s.some((x) => x.kind === SERVER) && s.some((x) => x.name === 'query') && s.some((x) => x.kind === CLIENT),
    );
    const http = spans.find((s) => s.kind === SERVER)!;
    expect(http).toEqual(
      expect.objectContaining({
        name: 'POST /graphql',
        parentSpanId: callerSpanId,
        attributes: expect.objectContaining({ 'http.request.method': 'POST', 'http.route': '/graphql', 'http.response.status_code': 200 }),
        resource: expect.objectContaining({ 'service.name': 'taskgraph-under-test' }),
      }),
    );
    const operation = spans.find((s) => s.name === 'query')!;
    expect(operation.parentSpanId).toBe(http.spanId);
    expect(operation.attributes).toEqual(expect.objectContaining({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Tasks' }));
    const queries = spans.filter((s) => s.kind === CLIENT);
    expect(queries.length).toBeGreaterThan(0);
    for (const q of queries) {
      expect(q.attributes).toEqual(expect.objectContaining({ 'db.system.name': 'postgresql', 'db.query.text': expect.any(String) }));
      // Parameterised text only: no value of the request in it.
      expect(String(q.attributes['db.query.text'])).not.toContain(user.id);
    }
    // The task page is read while the operation executes: its span is the query's parent.
    expect(queries.some((q) => q.parentSpanId === operation.spanId)).toBe(true);

    // The request's log line carries its request id and its trace and span ids.
    const line = await eventually(
      () => server.logs.find((l) => (l['req'] as { id?: unknown } | undefined)?.id === requestId),
      5_000,
      'the request line',
    );
    expect(line).toEqual(expect.objectContaining({ requestId, trace_id: traceId, span_id: http.spanId }));
  });

  it('start a new trace without a traceparent, and mark refusals on the operation span', async () => {
    const res = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation Anonymous { deleteTask(id: "00000000-0000-0000-0000-000000000000") }' }),
    });
    expect(res.status).toBe(401);
    await res.text();
    const span = await eventually(
      () => receiver.spans.find((s) => s.name === 'mutation' && s.attributes['graphql.operation.name'] === 'Anonymous'),
      10_000,
      'the mutation span',
    );
    expect(span.attributes['error.type']).toBe('UNAUTHENTICATED');
    expect(span.status.code).toBe(2); // ERROR
    const http = receiver.spans.find((s) => s.spanId === span.parentSpanId);
    expect(http?.parentSpanId).toBe('');
  });

  it('record a span per subscription event delivered, linked to the subscription', async () => {
    const owner = await signUp(server.url);
    const live = liveClient(server.graphqlUrl, () => owner.token);
    try {
      await connected(live);
      const sub = subscribe(live, TaskEventsDocument);
      await eventually(
        async () => {
          await expectData(server.graphqlUrl, CreateTaskDocument, { input: { title: 'traced' } }, owner.token);
          return sub.results.length > 0 ? true : undefined;
        },
        10_000,
        'a task event',
      );
      const subscription = await eventually(
        () => receiver.spans.find((s) => s.name === 'subscription' && s.attributes['graphql.operation.name'] === 'TaskEvents'),
        10_000,
        'the subscription span',
      );
      const event = await eventually(
        () => receiver.spans.find((s) => s.name === 'subscription event' && s.links.some((l) => l.spanId === subscription.spanId)),
        10_000,
        'an event span linked to the subscription',
      );
      expect(event.kind).toBe(PRODUCER);
    } finally {
      await live.dispose();
    }
  });
});

describe('OpenTelemetry traces (OTLP over HTTP, protobuf: the default protocol)', () => {
  it('are exported to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as protobuf', async () => {
    const protobuf = await startOtlpReceiver();
    const other = await startServer({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${protobuf.url}/custom/traces`, OTEL_BSP_SCHEDULE_DELAY: '50' });
    try {
      await (await fetch(`${other.url}/healthz`)).text();
      const request = await eventually(() => protobuf.requests.find((r) => r.bytes > 0), 10_000, 'a protobuf export');
      expect(request).toEqual({ path: '/custom/traces', contentType: 'application/x-protobuf', bytes: expect.any(Number) });
    } finally {
      await other.stop();
      await protobuf.close();
    }
  });
});
