import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';

/** Told when a subscription event's message has been written: its source event (root value) and the operation. */
export type DeliveryObserver = (rootValue: unknown, args: ExecutionArgs) => void;

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof (value as Partial<AsyncIterable<unknown>> | null | undefined)?.[Symbol.asyncIterator] === 'function';

/**
 * graphql-js's `subscribe` (source stream, then `execute` per event), which also tells `delivered`
 * when each event's result has been written. graphql-ws sends a result (awaiting the socket's write
 * callback) before it asks for the next one, so the next `next()` call is the moment the previous
 * message left: no hook inside graphql-ws needed. The source event is the root value, where the
 * event's arrival time travels (TaskEventRecord.receivedAt).
 *
 * Like graphql-js's own mapping (mapAsyncIterator), `return()` ends the source at once, even
 * while a `next()` waits for an event, and an error executing one event ends the source.
 */
export function observedSubscribe(delivered: DeliveryObserver) {
  return async (args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const iterator = source[Symbol.asyncIterator]();
    let sent: { rootValue: unknown } | undefined;
    const close = async () => {
      await iterator.return?.();
    };
    const stream: AsyncGenerator<ExecutionResult, void, void> = {
      async next() {
        if (sent) delivered(sent.rootValue, args);
        sent = undefined;
        const step = await iterator.next();
        if (step.done) return { done: true, value: undefined };
        try {
          const result = await execute({ ...args, rootValue: step.value });
          sent = { rootValue: step.value };
          return { done: false, value: result };
        } catch (err) {
          await close().catch(() => {});
          throw err;
        }
      },
      async return() {
        sent = undefined;
        await close();
        return { done: true, value: undefined };
      },
      async throw(err: unknown) {
        sent = undefined;
        await close();
        throw err;
      },
      [Symbol.asyncIterator]() {
        return this;
      },
      async [Symbol.asyncDispose]() {
        await close();
      },
    };
    return stream;
  };
}
