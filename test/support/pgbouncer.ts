import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/db/embedded.ts';

/** Debian's package (`apt-get install pgbouncer`; `.ci/run` installs it when missing). */
const BINARY = '/usr/sbin/pgbouncer';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface PgBouncer {
  port: number;
  /** `url` (a postgres:// URL of the server PgBouncer fronts) with its host and port replaced by PgBouncer's. */
  urlFor(url: string): string;
  /** Everything PgBouncer logged (stderr). */
  output(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** `transaction` unless told: what Neon's pooled endpoint and Supabase's port 6543 run. */
  poolMode?: 'session' | 'transaction' | 'statement';
  /** More `[pgbouncer]` settings; by default none, so PgBouncer's own defaults hold. */
  settings?: Record<string, string>;
}

/** The postgres account's ids when the tests run as root: PgBouncer refuses to run as root. */
function postgresAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Debian's PgBouncer on a free port of 127.0.0.1 in front of the PostgreSQL server of `serverUrl`
 * (any database name on it), in a temporary folder readable by the postgres user, as that user
 * when the tests run as root. It trusts every client and logs in to the server with the user and
 * password of `serverUrl`. Settings are PgBouncer's defaults but the pool mode: startup parameters
 * other than the few it tracks are refused, and there is no prepared statement support (1.18).
 */
export async function startPgBouncer(serverUrl: string, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: apt-get install pgbouncer (.ci/run installs it)`);
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || 'postgres');
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'taskgraph-pgbouncer-'));
  chmodSync(dir, 0o755);
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const settings: Record<string, string> = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: path.join(dir, 'userlist.txt'),
    pool_mode: options.poolMode ?? 'transaction',
    ...options.settings,
  };
  writeFileSync(path.join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`, { mode: 0o644 });
  writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || '5432'}`,
      '[pgbouncer]',
      ...Object.entries(settings).map(([key, value]) => `${key} = ${value}`),
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const account = postgresAccount();
  if (account) chownSync(dir, account.uid, account.gid);

  // In the foreground (no -d): its PID is the child's, and its log goes to stderr.
  const child = spawn(BINARY, [path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'], ...(account ?? {}) });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      // SIGTERM: immediate shutdown (SIGINT would wait for clients to leave).
      process.kill(child.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
      if ((await Promise.race([exited, late])) === 'late') {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
      clearTimeout(timer);
    }
    cleanup();
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`PgBouncer did not start on port ${port}:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    urlFor(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    output: () => out,
    stop,
  };
}
