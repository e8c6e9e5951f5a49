import { createHash } from 'node:crypto';
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';

/** Told when a subscription event's message has been written: its source event (root value) and the operation. */
export type DeliveryObserver = (rootValue: unknown, args: ExecutionArgs) => void;

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof (value as Partial<AsyncIterable<unknown>> | null | undefined)?.[Symbol.asyncIterator] === 'function';

/**
 * What makes two subscriptions' results for one event the same, by the arguments of each (see
 * `shareResults`). Subscriptions without one execute every event on their own.
 */
const shareKeys = new WeakMap<ExecutionArgs, string>();
/**
 * Results of an event already executed, by share key, for as long as the event lives. The feed
 * hands one event object to every subscription of its owner at the head (TaskFeed), so a user's
 * N identical subscriptions execute a change once.
 */
const results = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
/** Each result's `next` payload, serialised once however many subscriptions send it. */
const payloads = new WeakMap<ExecutionResult, string>();

/**
 * Marks a subscription's execution arguments as sharing results with every other subscription of
 * the same `parts` (which must be all its result depends on besides the event: the document's
 * text, the operation name, the variables, the viewer the context is built for). Returns `args`.
 */
export function shareResults(args: ExecutionArgs, parts: unknown[]): ExecutionArgs {
  let text: string;
  try {
    text = JSON.stringify(parts);
  } catch {
    return args; // not JSON (a BigInt variable?): executes on its own
  }
  // A digest, not the text: documents can be 25 KB, and the key is compared on every event.
  shareKeys.set(args, createHash('sha256').update(text).digest('base64'));
  return args;
}

function executeEvent(args: ExecutionArgs, rootValue: unknown): Promise<ExecutionResult> {
  const key = shareKeys.get(args);
  if (key === undefined || typeof rootValue !== 'object' || rootValue === null) return Promise.resolve(execute({ ...args, rootValue }));
  let byKey = results.get(rootValue);
  if (!byKey) results.set(rootValue, (byKey = new Map<string, Promise<ExecutionResult>>()));
  let result = byKey.get(key);
  if (!result) {
    result = Promise.resolve(execute({ ...args, rootValue }));
    byKey.set(key, result);
  }
  return result;
}

/**
 * graphql-js's `subscribe` (source stream, then `execute` per event), with two differences:
 *
 * - Subscriptions marked by `shareResults` with the same key share the execution of an event they
 *   both get (the same object): the result is one object, never changed by its readers.
 * - `delivered` (when given) is told when each event's result has been written. graphql-ws sends
 *   a result (awaiting the socket's write callback) before it asks for the next one, so the next
 *   `next()` call is the moment the previous message left: no hook inside graphql-ws needed. The
 *   source event is the root value, where the event's arrival time travels (TaskEventRecord.receivedAt).
 *
 * Like graphql-js's own mapping (mapAsyncIterator), `return()` ends the source at once, even
 * while a `next()` waits for an event, and an error executing one event ends the source.
 */
export function sharedSubscribe(delivered?: DeliveryObserver) {
  return async (args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    return new SharedStream(source[Symbol.asyncIterator](), args, delivered);
  };
}

/** No event sent since the last `next()`. */
const NONE = Symbol('none');

/**
 * One subscription's stream of results (see sharedSubscribe). A class, not an object of closures
 * around an async generator: every open subscription holds one, waiting, for as long as it lasts,
 * and the methods on a prototype and a pending promise cost a fraction of closures and a
 * suspended async function each.
 */
class SharedStream implements AsyncGenerator<ExecutionResult, void, void> {
  readonly #iterator: AsyncIterator<unknown>;
  readonly #args: ExecutionArgs;
  readonly #delivered: DeliveryObserver | undefined;
  /** The source event whose result was handed out last, until the next `next()` says it was written. */
  #sent: unknown = NONE;

  constructor(iterator: AsyncIterator<unknown>, args: ExecutionArgs, delivered: DeliveryObserver | undefined) {
    this.#iterator = iterator;
    this.#args = args;
    this.#delivered = delivered;
  }

  next(): Promise<IteratorResult<ExecutionResult, void>> {
    if (this.#sent !== NONE) this.#delivered?.(this.#sent, this.#args);
    this.#sent = NONE;
    // As an async function would: a source that throws rejects the read instead.
    const step = new Promise<IteratorResult<unknown>>((resolve) => resolve(this.#iterator.next()));
    return step.then((event) => (event.done ? { done: true, value: undefined } : this.#execute(event.value)));
  }

  #execute(rootValue: unknown): Promise<IteratorResult<ExecutionResult, void>> {
    return executeEvent(this.#args, rootValue).then(
      (result) => {
        this.#sent = rootValue;
        return { done: false, value: result };
      },
      async (err: unknown) => {
        await this.#close().catch(() => {});
        throw err;
      },
    );
  }

  async #close(): Promise<void> {
    await this.#iterator.return?.();
  }

  async return(): Promise<IteratorResult<ExecutionResult, void>> {
    this.#sent = NONE;
    await this.#close();
    return { done: true, value: undefined };
  }

  async throw(err: unknown): Promise<IteratorResult<ExecutionResult, void>> {
    this.#sent = NONE;
    await this.#close();
    throw err;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#close();
  }
}

const PLACEHOLDER = '\u0000next ';
/** The placeholder as JSON writes it: found in a message only if `stand` made it. */
const PLACEHOLDER_JSON = JSON.stringify(PLACEHOLDER).slice(0, -1);

/**
 * The `next` messages of one socket, serialised from payloads serialised once per result.
 *
 * graphql-ws serialises every message itself (`JSON.stringify({ id, type, payload })`): the same
 * 10 KB task sent to 400 subscriptions was stringified 400 times. So onNext hands graphql-ws
 * `stand(id, result)` instead of the result: an object that serialises to a short placeholder.
 * graphql-ws passes the serialised message to the socket's `send`, where `take` swaps it for the
 * real message: the payload's JSON (one string for every subscription sending this result)
 * between the id's own prefix and `}`. Any other message is sent as it is. (A Buffer payload
 * copied into each message, or sent as a fragment of its own, measured no better: what remains
 * is writing the bytes.)
 */
export class NextFrames {
  /** Made when a message is pending, dropped once none is: most sockets wait without one. */
  #pending: Map<string, string> | undefined;
  #count = 0;

  /** What onNext returns for `result` (no errors) of subscription `id`. */
  stand(id: string, result: ExecutionResult): object {
    let payload = payloads.get(result);
    if (payload === undefined) payloads.set(result, (payload = JSON.stringify(result)));
    const placeholder = `${PLACEHOLDER}${++this.#count}`;
    // A rope of three strings: the payload is not copied until the socket writes it.
    (this.#pending ??= new Map()).set(
      JSON.stringify({ id, type: 'next', payload: placeholder }),
      `{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`,
    );
    return { toJSON: () => placeholder };
  }

  /** What to write for a message graphql-ws serialised: the frame a placeholder stands for, or the message. */
  take(message: string): string {
    const pending = this.#pending;
    if (pending === undefined) return message;
    const frame = pending.get(message);
    if (frame === undefined) {
      // graphql-ws serialised a message differently (another version?): never send a placeholder.
      if (message.includes(PLACEHOLDER_JSON)) throw new Error(`a next message was serialised unlike expected: ${message.slice(0, 200)}`);
      return message;
    }
    pending.delete(message);
    if (pending.size === 0) this.#pending = undefined;
    return frame;
  }
}
