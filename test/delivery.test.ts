import { describe, expect, it } from '@jest/globals';
import { GraphQLScalarType, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { NextFrames, sharedSubscribe, shareResults } from '../src/http/delivery.ts';

/**
 * How src/http/delivery.ts shares the work of one change among a user's subscriptions, on its own:
 * a schema whose resolver counts executions and whose scalar counts serialisations, and a source
 * that hands every subscription the same event object, as the task feed does for one owner's
 * subscribers. That the real server delivers the right messages is tested over WebSocket in
 * subscriptions.test.ts ("identical subscriptions").
 */

let executed = 0;
let serialised = 0;
/** A value that counts the times JSON.stringify writes it. */
const Counted = new GraphQLScalarType({
  name: 'Counted',
  serialize: (value) => ({
    toJSON: () => {
      serialised++;
      return value;
    },
  }),
});

/** Every subscriber's source yields the same event objects, pushed by the test. */
const subscribers: Array<(event: object) => void> = [];
function source(): AsyncIterableIterator<object> {
  const queue: object[] = [];
  let wake: (() => void) | undefined;
  subscribers.push((event) => {
    queue.push(event);
    wake?.();
  });
  const iterator: AsyncIterableIterator<object> = {
    async next() {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return { done: false, value: queue.shift()! };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

const schema = makeExecutableSchema({
  typeDefs: `
    scalar Counted
    type Event { text: Counted! upper: String! }
    type Query { ok: Boolean }
    type Subscription { events: Event! }
  `,
  resolvers: {
    Counted,
    Subscription: { events: { subscribe: () => source(), resolve: (event: unknown) => event } },
    Event: {
      text: (event: { text: string }) => {
        executed++;
        return event.text;
      },
      upper: (event: { text: string }) => event.text.toUpperCase(),
    },
  },
});

async function subscription(query: string, variables: Record<string, unknown> = {}, shared = true) {
  const args: ExecutionArgs = { schema, document: parse(query), variableValues: variables };
  if (shared) shareResults(args, [query, null, variables, ['user-1']]);
  const stream = await sharedSubscribe()(args);
  if (!(Symbol.asyncIterator in stream)) throw new Error(JSON.stringify(stream));
  return stream;
}

describe('delivering one change to many subscriptions', () => {
  it('executes and serialises it once for identical subscriptions, and once per distinct one', async () => {
    subscribers.length = 0;
    const same = 'subscription { events { text } }';
    const other = 'subscription($up: Boolean!) { events { text upper @include(if: $up) } }';
    const streams = [
      ...(await Promise.all(Array.from({ length: 10 }, () => subscription(same)))),
      await subscription(other, { up: true }),
      await subscription(other, { up: false }),
    ];
    executed = 0;
    serialised = 0;
    const event = { text: 'hello' };
    for (const push of subscribers) push(event);
    const results = await Promise.all(streams.map((s) => s.next()));
    // Two sockets, as a user with several open: ids differ, payloads do not.
    const sockets = [new NextFrames(), new NextFrames()];
    const messages = results.map((r, i) => {
      const frames = sockets[i % 2]!;
      const stand = frames.stand(`op-${i}`, r.value as ExecutionResult);
      return frames.take(JSON.stringify({ id: `op-${i}`, type: 'next', payload: stand }));
    });

    expect(executed).toBe(3); // one per distinct (document, variables)
    expect(serialised).toBe(3);
    expect(messages.map((m) => JSON.parse(m) as unknown)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => ({ id: `op-${i}`, type: 'next', payload: { data: { events: { text: 'hello' } } } })),
      { id: 'op-10', type: 'next', payload: { data: { events: { text: 'hello', upper: 'HELLO' } } } },
      { id: 'op-11', type: 'next', payload: { data: { events: { text: 'hello' } } } },
    ]);

    // A second change: executed again, once per distinct subscription.
    const next = { text: 'again' };
    for (const push of subscribers) push(next);
    await Promise.all(streams.map((s) => s.next()));
    expect(executed).toBe(6);
  });

  it('executes on its own a subscription not marked as shareable, and another viewer', async () => {
    subscribers.length = 0;
    const query = 'subscription { events { text } }';
    const mine = await subscription(query);
    const unmarked = await subscription(query, {}, false);
    const args: ExecutionArgs = { schema, document: parse(query), variableValues: {} };
    shareResults(args, [query, null, {}, ['user-2']]);
    const theirs = await sharedSubscribe()(args);
    if (!(Symbol.asyncIterator in theirs)) throw new Error('no stream');
    executed = 0;
    const event = { text: 'x' };
    for (const push of subscribers) push(event);
    await Promise.all([mine.next(), unmarked.next(), theirs.next()]);
    expect(executed).toBe(3);
  });

  it('sends any other message as it is, and never a placeholder it cannot replace', () => {
    const frames = new NextFrames();
    expect(frames.take('{"type":"connection_ack"}')).toBe('{"type":"connection_ack"}');
    const stand = frames.stand('a', { data: { x: 1 } });
    // Serialised with another key order than the one `stand` expects.
    expect(() => frames.take(JSON.stringify({ type: 'next', id: 'a', payload: stand }))).toThrow(/serialised unlike expected/);
  });
});
