import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { startServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.stop());

describe('health endpoints', () => {
  it('answers /healthz and /readyz while the database is up', async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('reports 503 on /readyz when the database becomes unreachable, while /healthz stays 200', async () => {
    // Take the database away under the running server: close its connections and drop it.
    const admin = new pg.Client({ connectionString: process.env['TEST_ADMIN_DATABASE_URL'] });
    await admin.connect();
    await admin.query(`drop database ${admin.escapeIdentifier(server.database.name)} with (force)`);
    await admin.end();

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
