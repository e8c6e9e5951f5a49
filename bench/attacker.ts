/**
 * The attacker of bench/limits.ts, in a worker thread of its own: its sending (hundreds of MB of
 * messages) must not delay the victim's requests, which the main thread times.
 *
 * workerData: { kind: 'ws-flood', url, token, sockets, messages, query }. Posts back
 * `{ answers, closes }` (counts by message type / error code, and by close code) once the server
 * has been quiet for 3 s, or after 60 s.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

interface FloodTask {
  kind: 'ws-flood';
  url: string;
  token: string;
  sockets: number;
  messages: number;
  query: string;
}

const task = workerData as FloodTask;
const answers: Record<string, number> = {};
const closes: Record<string, number> = {};
const tally = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);
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
