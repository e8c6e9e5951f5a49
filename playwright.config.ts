import { createServer } from 'node:net';
import { defineConfig } from '@playwright/test';

/**
 * Browser tests of the web example (`npm run test:e2e`): Debian's Chromium driven by Playwright
 * (Playwright's own browser download is not needed; the @playwright/test version must match the
 * Chromium: 1.64 for Chromium 156). The app and the API run as `npm run example` does, on free
 * ports, with a throwaway database (or DATABASE_URL when set), and 5-second tokens so that
 * expiry and refresh happen during the tests.
 */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

// Workers load this file again: the ports are chosen once and inherited through the environment.
process.env.E2E_API_PORT ||= String(await freePort());
process.env.E2E_WEB_PORT ||= String(await freePort());
const apiPort = process.env.E2E_API_PORT;
const webPort = process.env.E2E_WEB_PORT;
const TOKEN_LIFETIME_SECONDS = 5;

export default defineConfig({
  testDir: 'examples/web/e2e',
  fullyParallel: true,
  // Two cores: one API, one Vite and the browser share them.
  workers: 2,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? 'list' : [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  use: {
    baseURL: `http://localhost:${webPort}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: 'node examples/web/run.ts --temp-data',
    url: `http://localhost:${webPort}/`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    // SIGTERM, and time to drain: the default SIGKILL would leave the embedded PostgreSQL running.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30_000 },
    env: {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: apiPort,
      METRICS_PORT: '0',
      WEB_PORT: webPort,
      LOG_LEVEL: 'warn',
      AUTH_JWT_LIFETIME_SECONDS: String(TOKEN_LIFETIME_SECONDS),
      AUTH_CLOCK_SKEW_SECONDS: '0',
      // Every test signs up from the same address (127.0.0.1), in parallel: Better Auth's
      // per-address rules (3 sign-ups or sign-ins per 10 s), on whenever the API's rate limit is,
      // would refuse all but the first few. The limits have their own tests (npm test).
      RATE_LIMIT_PER_MINUTE: '0',
      // A loaded CI machine stalls the server now and then; that is not the overload shedding is for.
      OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
      OVERLOAD_MAX_DB_WAIT_MS: '0',
    },
  },
});
