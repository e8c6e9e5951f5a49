/**
 * Closed-loop clients of bench/overload.ts, in a worker thread of their own (the bench runs
 * several): a client's latency is timed by a thread that does nothing else, and the main thread,
 * which times /healthz and /readyz, is not held up by thousands of answers a second.
 *
 * workerData: `ClientsTask`. Posts `{ connected: true }` once every connection is open, waits for
 * `{ startAt }` (Date.now() of the start, the same for every worker), then posts a `ClientsResult`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LeanConnection, type LeanResponse } from './lean-client.ts';

export interface ClientsTask {
  host: string;
  port: number;
  /** One client per request: the request it sends again and again. */
  requests: string[];
  warmupMs: number;
  durationMs: number;
  /** On a 503: wait its Retry-After (`honour`) or send again at once (`immediate`). */
  retry: 'honour' | 'immediate';
  /** A request not answered this long after it was sent counts as unanswered. */
  unansweredMs: number;
}

export interface Tally {
  /** Latencies of the pages answered (ms). */
  answered: number[];
  /** 503s: `shed` those refused before any work (the guard's message), the rest work that failed for the database being too slow. */
  refusals: { total: number; shed: number; withoutRetryAfter: number; wrongBody: number };
  /** Anything else: other statuses, connection errors. */
  others: Record<string, number>;
  /** Answers that took longer than `unansweredMs`. */
  late: number;
}

export interface ClientsResult {
  /** What was sent during the warm-up (the cold start), and during the measured window. */
  warmup: Tally;
  measured: Tally;
  /** Requests still without an answer `unansweredMs` after the end. */
  outstanding: number;
}

const newTally = (): Tally => ({ answered: [], refusals: { total: 0, shed: 0, withoutRetryAfter: 0, wrongBody: 0 }, others: {}, late: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(task: ClientsTask): Promise<void> {
  const port = parentPort!;
  const requests = task.requests.map((r) => Buffer.from(r));
  const connections: LeanConnection[] = [];
  for (let i = 0; i < requests.length; i += 250) {
    const batch = Array.from({ length: Math.min(250, requests.length - i) }, () => new LeanConnection(task.host, task.port));
    await Promise.all(batch.map((c) => c.connected));
    connections.push(...batch);
  }
  const startAt = await new Promise<number>((resolve) => {
    port.once('message', (m: { startAt: number }) => resolve(m.startAt));
    port.postMessage({ connected: true });
  });
  await sleep(Math.max(0, startAt - Date.now()));

  const warmup = newTally();
  const measured = newTally();
  const outstanding = new Set<number>();
  const started = performance.now();
  const measureFrom = started + task.warmupMs;
  const end = measureFrom + task.durationMs;
  const isPage = (r: LeanResponse) => r.status === 200 && r.body.includes('"nodes":[') && !r.body.includes('"errors"');
  const client = async (i: number) => {
    let conn = connections[i]!;
    while (performance.now() < end) {
      const sent = performance.now();
      const tally = sent < measureFrom ? warmup : measured;
      outstanding.add(i);
      let r: LeanResponse;
      try {
        r = await conn.send(requests[i]!);
      } catch (err) {
        outstanding.delete(i);
        const key = (err as Error).message;
        tally.others[key] = (tally.others[key] ?? 0) + 1;
        conn = connections[i] = new LeanConnection(task.host, task.port);
        await conn.connected.catch(() => sleep(100));
        continue;
      }
      outstanding.delete(i);
      const took = performance.now() - sent;
      if (took > task.unansweredMs) tally.late++;
      if (r.status === 503) {
        tally.refusals.total++;
        if (r.retryAfter === undefined) tally.refusals.withoutRetryAfter++;
        if (!r.body.includes('SERVICE_UNAVAILABLE')) tally.refusals.wrongBody++;
        if (r.body.includes('too busy')) tally.refusals.shed++;
        if (task.retry === 'honour') await sleep(Number(r.retryAfter ?? 1) * 1000);
      } else if (isPage(r)) {
        tally.answered.push(took);
      } else {
        const key = `HTTP ${r.status} ${r.body.slice(0, 120)}`;
        tally.others[key] = (tally.others[key] ?? 0) + 1;
      }
    }
  };
  const loops = requests.map((_, i) => client(i));
  // Nothing is sent after `end`; what is still out `unansweredMs` later was never answered in time.
  await Promise.race([Promise.all(loops), sleep(task.warmupMs + task.durationMs + task.unansweredMs)]);
  const result: ClientsResult = { warmup, measured, outstanding: outstanding.size };
  for (const c of connections) c.close();
  port.postMessage(result);
}

await main(workerData as ClientsTask);
