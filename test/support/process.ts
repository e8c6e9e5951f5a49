import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { npmStart } from '../../bench/production.ts';
import { projectRoot } from '../../src/config.ts';

/**
 * Jest's bound on a test that creates an embedded PostgreSQL cluster (initdb) and starts servers on
 * it several times: minutes of CPU on a busy 2-core machine. A bound on a hang only, asserting
 * nothing about time (the suite's default, 60 s, suits a test against the shared PostgreSQL).
 */
export const EMBEDDED_CLUSTER_TEST_MS = 180_000;

/** A folder the embedded PostgreSQL (running as the `postgres` user under root) can use. */
export function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-data-'));
  chmodSync(dir, 0o755);
  return dir;
}

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the server's base URL once it listens (/healthz answers; the API may not yet). */
  listening: Promise<string>;
  /** Resolves with the server's base URL once it logs that the API is ready (not merely listening). */
  ready: Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Overload shedding off: a loaded test machine stalls the server now and then, which is not overload. */
export const NO_SHEDDING = { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', OVERLOAD_MAX_DB_WAIT_MS: '0' };

/**
 * Runs the real entry point, `node src/index.ts`, as `npm start` does in development (or `args`:
 * another command line of node), with `env` on top of a clean environment (no DATABASE_URL
 * inherited from the test run unless given).
 */
export function runServer(env: Record<string, string>, args = ['src/index.ts']): ServerProcess {
  return watched((fullEnv) => spawn(process.execPath, args, { cwd: projectRoot, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] }), env);
}

/**
 * `npm start` itself (bench/production.ts), with `env` as runServer takes it. The child is npm; the
 * server is npm's child.
 */
export function runNpmStart(env: Record<string, string>): ServerProcess {
  return watched((fullEnv) => npmStart(fullEnv, [], ['ignore', 'pipe', 'pipe']), env);
}

function watched(start: (env: NodeJS.ProcessEnv) => ChildProcess, env: Record<string, string>): ServerProcess {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  // METRICS_PORT off unless asked for: parallel tests would all want the default port. Overload
  // shedding off unless asked for: a test machine's stalls would refuse requests (test/overload.test.ts).
  const child = start({ ...inherited, NODE_ENV: 'development', HOST: '127.0.0.1', METRICS_PORT: '0', ...NO_SHEDDING, ...env });
  const [stdout, stderr] = [child.stdout!, child.stderr!];
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (pattern: RegExp, what: string) => {
    const found = new Promise<string>((resolve, reject) => {
      const onData = () => {
        const match = pattern.exec(out);
        if (match) resolve(match[1]!);
      };
      stdout.on('data', onData);
      stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`server exited with ${code} before it was ${what}:\n${out}`)));
    });
    found.catch(() => {});
    return found;
  };
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
  };
  // Registered first, so that the matchers below see each chunk already appended.
  stdout.on('data', collect);
  stderr.on('data', collect);
  return {
    child,
    output: () => out,
    listening: waitFor(/listening on (http:\/\/[^\s;]+)/, 'listening'),
    // Without "(not ready: ...)" after it, this line means the API serves requests.
    ready: waitFor(/GraphQL API: (http:\/\/\S+)\/graphql {2}\|/, 'ready'),
    exited,
  };
}
