/**
 * The attacker of bench/limits.ts, in a worker thread of its own: its sending (hundreds of MB of
 * messages) and receiving must not delay the victim's requests, which the main thread times.
 *
 * workerData { kind: 'ws-flood', url, token, sockets, messages, query }: posts back
 * `{ answers, closes }` (counts by message type / error code, and by close code) once the server
 * has been quiet for 3 s, or after 60 s.
 *
 * workerData { kind: 'fan-out', url, token, sockets, subscriptions, query }: opens the sockets,
 * subscribes `subscriptions` times on each and posts `{ started, accepted, refused }` once the
 * refusals have come (accepted: the subscriptions not refused). `{ prime: true }`: posts
 * `{ primed }` once every accepted subscription has heard an event. `{ expect: n }`: posts
 * `{ events, bytes, seconds, complete }` once every accepted subscription has heard `n` more
 * events (or after 60 s, or 5 s of quiet).
 *
 * workerData { kind: 'http-loops', url, token, query, loops, seconds }: `loops` loops each POST
 * `query` again as soon as the last answer came, for `seconds`, ignoring Retry-After (as an
 * attacker would); posts `{ started }` at once, then `{ answers, times }`: answers by HTTP status
 * and error code, the latency of each answer (ms).
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

interface FanOutTask {
  kind: 'fan-out';
  url: string;
  token: string;
  sockets: number;
  subscriptions: number;
  query: string;
}

interface FloodTask {
  kind: 'ws-flood';
  url: string;
  token: string;
  sockets: number;
  messages: number;
  query: string;
}

interface HttpLoopsTask {
  kind: 'http-loops';
  url: string;
  token: string;
  query: string;
  loops: number;
  seconds: number;
}

const tally = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);
const task = workerData as FloodTask | FanOutTask | HttpLoopsTask;
if (task.kind === 'fan-out') await fanOut(task);
else if (task.kind === 'http-loops') await httpLoops(task);
else await flood(task);

async function httpLoops(task: HttpLoopsTask) {
  const answers: Record<string, number> = {};
  const times: number[] = [];
  parentPort!.postMessage({ started: true });
  const until = Date.now() + task.seconds * 1000;
  const loop = async () => {
    while (Date.now() < until) {
      const started = performance.now();
      try {
        const res = await fetch(task.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${task.token}` },
          body: JSON.stringify({ query: task.query }),
        });
        const body = (await res.json().catch(() => ({}))) as { errors?: Array<{ extensions?: { code?: string } }> };
        tally(answers, `${res.status}${body.errors ? ` ${body.errors[0]?.extensions?.code ?? 'error'}` : ''}`);
        // A refusal answered at once: a moment's pause, so that this thread does not spin.
        if (res.status === 429 || res.status === 503) await new Promise((r) => setTimeout(r, 20));
      } catch (err) {
        tally(answers, (err as Error).message);
      }
      times.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: task.loops }, loop));
  parentPort!.postMessage({ answers, times });
}

async function fanOut(task: FanOutTask) {
  const refused: Record<string, number> = {};
  /** Events heard per subscription ("socket/id"), and in all. */
  const heard = new Map<string, number>();
  let bytes = 0;
  let last = Date.now();
  const sockets = Array.from({ length: task.sockets }, (_, i) => {
    const ws = new WebSocket(task.url, 'graphql-transport-ws');
    const acked = new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        last = Date.now();
        bytes += data.length;
        const message = JSON.parse(data.toString()) as { type: string; id?: string; payload?: Array<{ extensions?: { code?: string } }> };
        if (message.type === 'connection_ack') resolve();
        else if (message.type === 'next') heard.set(`${i}/${message.id}`, (heard.get(`${i}/${message.id}`) ?? 0) + 1);
        else if (message.type === 'error') tally(refused, message.payload?.[0]?.extensions?.code ?? 'unknown');
      });
      ws.on('close', (code) => reject(new Error(`closed ${code}`)));
    });
    ws.on('error', () => {});
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${task.token}` } })));
    return { ws, acked };
  });
  await Promise.all(sockets.map((s) => s.acked));
  for (const { ws } of sockets)
    for (let n = 0; n < task.subscriptions; n++) ws.send(JSON.stringify({ id: String(n), type: 'subscribe', payload: { query: task.query } }));
  // Refusals come at once; whatever is not refused by then is in place (or will be: the first
  // expectation, a single change, waits until every subscription has heard it).
  const total = task.sockets * task.subscriptions;
  const deadline = Date.now() + 10_000;
  while (Date.now() - last < 1_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const refusedCount = Object.values(refused).reduce((a, b) => a + b, 0);
  const accepted = total - refusedCount;
  parentPort!.postMessage({ started: true, accepted, refused });
  parentPort!.on('message', (m: { expect?: number; prime?: boolean; stop?: boolean }) => {
    if (m.stop) {
      for (const { ws } of sockets) ws.terminate();
      parentPort!.close();
      return;
    }
    if (m.prime) {
      // Every accepted subscription has heard something: all are in place (the main thread makes changes until then).
      const check = () => (heard.size >= accepted ? parentPort!.postMessage({ primed: true }) : setTimeout(check, 20));
      check();
      return;
    }
    const expect = m.expect ?? 0;
    const baseline = new Map(heard);
    const started = Date.now();
    const bytesBefore = bytes;
    last = started;
    const check = () => {
      let events = 0;
      let done = true;
      for (const [key, n] of heard) {
        events += n - (baseline.get(key) ?? 0);
        if (n - (baseline.get(key) ?? 0) < expect) done = false;
      }
      if (done || Date.now() - last > 5_000 || Date.now() - started > 60_000) {
        parentPort!.postMessage({ events, bytes: bytes - bytesBefore, seconds: (Date.now() - started) / 1000, complete: done });
      } else setTimeout(check, 20);
    };
    check();
  });
}

async function flood(task: FloodTask) {
  const answers: Record<string, number> = {};
  const closes: Record<string, number> = {};
  let last = Date.now();

  const sockets = Array.from({ length: task.sockets }, () => {
    const ws = new WebSocket(task.url, 'graphql-transport-ws');
    const acked = new Promise<void>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; payload?: Array<{ extensions?: { code?: string } }> };
        if (message.type === 'connection_ack') {
          resolve();
          return;
        }
        last = Date.now();
        tally(answers, message.type === 'error' ? `error ${message.payload?.[0]?.extensions?.code ?? 'unknown'}` : message.type);
      });
      ws.on('close', (code, reason) => {
        tally(closes, `${code} ${reason.toString()}`);
        reject(new Error(`closed ${code}`));
      });
    });
    ws.on('error', () => {});
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${task.token}` } })));
    return { ws, acked };
  });

  await Promise.all(sockets.map((s) => s.acked));
  parentPort!.postMessage({ started: true });
  const started = Date.now();
  last = started;
  for (const [i, { ws }] of sockets.entries()) {
    for (let m = 0; m < task.messages; m++) ws.send(JSON.stringify({ id: `${i}-${m}`, type: 'subscribe', payload: { query: task.query } }));
  }
  // The loop above held this thread: what arrived meanwhile is read from here on.
  last = Date.now();
  while (Date.now() - last < 3_000 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 200));
  for (const { ws } of sockets) if (ws.readyState === ws.OPEN) tally(closes, 'open');
  parentPort!.postMessage({ answers, closes, seconds: (Date.now() - started) / 1000 });
  for (const { ws } of sockets) ws.terminate();
}
