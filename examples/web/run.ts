/**
 * `npm run example`: the API (what `npm start` runs, with its embedded PostgreSQL) and the web
 * app's Vite dev server, together. The app listens on WEB_PORT (5173) and reaches the API on PORT
 * (4000) through Vite's same-origin proxy.
 *
 * Ctrl-C or SIGTERM stops Vite and sends the API one SIGTERM, then waits for it: the API drains
 * its requests and stops PostgreSQL before it exits. The API runs in its own process group so
 * that a terminal's Ctrl-C does not reach it too (a second signal makes it exit without waiting).
 *
 * `--temp-data`: a throwaway database (a temporary DATA_DIR, deleted afterwards) unless
 * DATABASE_URL is set; the browser tests use it.
 *
 * The API runs as a deployment of this app would (docs/trusted-documents.md): NODE_ENV=production
 * (development never refuses text, so that Apollo Sandbox works) with PERSISTED_DOCUMENTS_ONLY=true
 * and the manifest `npm run codegen` wrote for this app: it runs the app's own operations, sent by
 * id, and nothing else. Production wants BETTER_AUTH_SECRET and BETTER_AUTH_URL: unless set, the
 * development secret of the data folder (the one `npm start` uses there) and http://localhost:PORT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { developmentSecret } from '../../src/config.ts';

const root = path.resolve(import.meta.dirname, '../..');
const apiPort = Number(process.env.PORT || 4000);
const webPort = Number(process.env.WEB_PORT || 5173);

// The API accepts browser requests to /api/auth only from trusted origins: the app's
// (http://localhost:WEB_PORT) is added here to what the environment or .env already lists.
const dotenv = existsSync(path.join(root, '.env')) ? parseEnv(readFileSync(path.join(root, '.env'), 'utf8')) : {};
const trusted = [process.env.TRUSTED_ORIGINS ?? dotenv.TRUSTED_ORIGINS, `http://localhost:${webPort}`].filter(Boolean).join(',');

let dataDir: string | undefined;
if (process.argv.includes('--temp-data') && !process.env.DATABASE_URL) {
  dataDir = mkdtempSync(path.join(tmpdir(), 'taskgraph-example-'));
  // As root, the embedded PostgreSQL runs as user postgres: it must be able to enter the folder.
  chmodSync(dataDir, 0o755);
}

const exited = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? 1);
    else child.once('exit', (code) => resolve(code ?? 1));
  });

const setting = (name: string): string | undefined => process.env[name] || dotenv[name] || undefined;
const secret =
  setting('BETTER_AUTH_SECRET') ??
  developmentSecret(path.resolve(root, dataDir ?? setting('DATA_DIR') ?? '.data'), (message) => console.warn(`example: ${message}`));

const api = spawn(process.execPath, ['src/index.ts'], {
  cwd: root,
  env: {
    ...process.env,
    PORT: String(apiPort),
    TRUSTED_ORIGINS: trusted,
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
    NODE_ENV: 'production',
    BETTER_AUTH_SECRET: secret,
    BETTER_AUTH_URL: setting('BETTER_AUTH_URL') ?? `http://localhost:${apiPort}`,
    PERSISTED_DOCUMENTS_ONLY: 'true',
    PERSISTED_DOCUMENTS_FILE: 'examples/web/src/gql/persisted-documents.json',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true,
});
const apiExit = exited(api);
const children: { vite?: ChildProcess } = {};
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    children.vite?.kill('SIGTERM');
    if (api.exitCode === null && api.signalCode === null) api.kill('SIGTERM');
    await Promise.all([apiExit, children.vite ? exited(children.vite) : undefined]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  }
  return new Promise<never>(() => {});
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0));
// Whatever goes wrong here, the API (in its own process group) must not be left running.
process.on('uncaughtException', (err) => {
  console.error('example:', err);
  void stop(1);
});
void apiExit.then((code) => {
  if (stopping) return;
  console.error(`example: the API exited (code ${code})`);
  void stop(code || 1);
});

async function apiReady(): Promise<boolean> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !stopping) {
    try {
      if ((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

if (!(await apiReady())) {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a signal handler may have set it while we waited
  if (!stopping) console.error(`example: the API did not answer on port ${apiPort}`);
  await stop(1);
}

const viteBin = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
const vite = spawn(process.execPath, [viteBin, '--config', path.join(import.meta.dirname, 'vite.config.ts')], {
  cwd: root,
  env: { ...process.env, PORT: String(apiPort), WEB_PORT: String(webPort) },
  // Vite exits when its stdin ends: keep a pipe open for as long as this script runs.
  stdio: ['pipe', 'inherit', 'inherit'],
});
children.vite = vite;
void exited(vite).then((code) => {
  if (stopping) return;
  console.error(`example: Vite exited (code ${code})`);
  void stop(code || 1);
});
console.log(`example: open http://localhost:${webPort} (API on port ${apiPort})`);
