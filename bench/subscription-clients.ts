/**
 * One client process of bench/subscriptions.ts (forked by it, one of several): opens its share of
 * the sockets (plain `ws`, graphql-transport-ws, no compression), authenticates each with its
 * user's token, subscribes to taskEvents, and reports every event heard to the parent, with the
 * time it was read, in batches. Processes, not worker threads: each holds its own descriptors, so
 * no process comes near the machine's limit of 20,000 open files.
 *
 * A refused upgrade (503 with Retry-After, the server's socket cap or overload shedding) and a
 * close before the acknowledgement (1013) are retried after the time named, as graphql-ws's own
 * client would; every retry is counted and reported.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export interface ClientsOpen {
  type: 'open';
  url: string;
  /** The sockets this process opens: their index in the whole run and their user's token. */
  sockets: Array<{ index: number; token: string }>;
  /** Handshakes in flight at once. */
  window: number;
  subscription: string;
}

/** An event heard: [socket index, task title (null for DELETED or an error), time in ms since the epoch (fractional)]. */
export type Heard = [number, string | null, number];

export type ClientsReport =
  | { type: 'progress'; acked: number; refused: number; retried: number }
  | { type: 'opened'; acked: number; refused: number; retried: number; failed: number; firstError: string | undefined }
  | { type: 'events'; heard: Heard[]; errors: string[]; unexpected: number; closedEarly: number };

const now = () => performance.timeOrigin + performance.now();
const send = (report: ClientsReport) => process.send!(report);

let stopping = false;
let heard: Heard[] = [];
let errors: string[] = [];
let unexpected = 0;
let closedEarly = 0;
const open = new Set<WebSocket>();

function flush(): void {
  if (heard.length === 0 && errors.length === 0 && unexpected === 0 && closedEarly === 0) return;
  send({ type: 'events', heard, errors, unexpected, closedEarly });
  heard = [];
  errors = [];
  unexpected = 0;
  closedEarly = 0;
}
setInterval(flush, 25).unref();

async function openAll(task: ClientsOpen): Promise<void> {
  let acked = 0;
  let refused = 0;
  let retried = 0;
  let failed = 0;
  let firstError: string | undefined;
  const progress = setInterval(() => send({ type: 'progress', acked, refused, retried }), 1000);

  /** Resolves once the socket is acknowledged and subscribed, or failed for good. */
  const connect = (index: number, token: string, attempt = 0): Promise<void> =>
    new Promise((resolve) => {
      const ws = new WebSocket(task.url, 'graphql-transport-ws', { perMessageDeflate: false });
      let ackedHere = false;
      let settled = false;
      const retry = (seconds: number, why: string) => {
        if (settled) return;
        settled = true;
        if (attempt >= 20) {
          failed++;
          firstError ??= why;
          resolve();
          return;
        }
        retried++;
        setTimeout(() => void connect(index, token, attempt + 1).then(resolve), seconds * 1000);
      };
      ws.on('unexpected-response', (_req, res) => {
        refused++;
        const after = Number(res.headers['retry-after'] ?? 1);
        res.resume();
        ws.terminate();
        retry(after, `HTTP ${res.statusCode}`);
      });
      ws.on('error', (err) => retry(1, String(err)));
      ws.on('open', () => {
        ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      });
      ws.on('message', (data: Buffer) => {
        const text = data.toString('utf8');
        const message = JSON.parse(text) as {
          type: string;
          payload?: { data?: { taskEvents?: { task: { title: string } | null } }; errors?: unknown };
        };
        if (message.type === 'connection_ack') {
          ackedHere = true;
          settled = true;
          acked++;
          open.add(ws);
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: task.subscription } }));
          resolve();
          return;
        }
        if (message.type === 'next') {
          if (message.payload?.errors) {
            if (errors.length < 3) errors.push(text.slice(0, 300));
            heard.push([index, null, now()]);
            return;
          }
          heard.push([index, message.payload?.data?.taskEvents?.task?.title ?? null, now()]);
          return;
        }
        if (message.type !== 'ping' && message.type !== 'pong') {
          unexpected++;
          if (errors.length < 3) errors.push(text.slice(0, 300));
        }
      });
      ws.on('close', (code, reason) => {
        open.delete(ws);
        if (ackedHere) {
          if (!stopping) {
            closedEarly++;
            if (errors.length < 3) errors.push(`socket ${index} closed by the server: ${code} ${reason.toString()}`);
          }
          return;
        }
        // Closed before the acknowledgement: 1013 (try again later) and the like are retried.
        retry(1, `closed ${code} ${reason.toString()}`);
      });
    });

  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(task.window, task.sockets.length) }, async () => {
      for (let i = next++; i < task.sockets.length; i = next++) {
        const { index, token } = task.sockets[i]!;
        await connect(index, token);
      }
    }),
  );
  clearInterval(progress);
  send({ type: 'opened', acked, refused, retried, failed, firstError });
}

process.on('message', (message: ClientsOpen | { type: 'stop' }) => {
  if (message.type === 'open') {
    void openAll(message);
  } else {
    stopping = true;
    flush();
    for (const ws of open) ws.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
