import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { connectionLimits, FALLBACK_MAX_CONNECTIONS, openFileLimit, OTHER_FILES } from '../src/http/capacity.ts';
import { expectData } from './support/graphql.ts';
import { connected, liveClient, wsUrl, type LiveClient } from './support/live.ts';
import { startServer, type TestServer } from './support/server.ts';
import { signUp, type TestUser } from './support/users.ts';

/**
 * Issue 21: one instance holds thousands of live tabs, and a full house of WebSockets never takes
 * the connections HTTP requests need (node:http's maxConnections counts upgraded sockets too: at
 * the old fixed cap of 10,000, the 10,000th socket made every HTTP request fail).
 */

describe('the connection cap', () => {
  it('defaults to the open-file limit less the database connections and the process files', () => {
    const limits = connectionLimits(undefined, 20_000, 28);
    expect(limits).toMatchObject({ source: 'open-file limit', maxConnections: 20_000 - 28 - OTHER_FILES });
    // Enough for the 18,000 sockets the subscription bench opens, with 1,000 kept for HTTP.
    expect(limits.maxWebSockets).toBe(limits.maxConnections - 1_000);
    expect(limits.maxWebSockets).toBeGreaterThanOrEqual(18_000);
  });

  it('keeps a tenth for HTTP when the cap is small, and takes a configured value as it is', () => {
    expect(connectionLimits(50, 20_000, 28)).toMatchObject({ source: 'HTTP_MAX_CONNECTIONS', maxConnections: 50, maxWebSockets: 45 });
    expect(connectionLimits(undefined, undefined, 28)).toMatchObject({ source: 'fallback', maxConnections: FALLBACK_MAX_CONNECTIONS });
  });

  it('reads the soft open-file limit from /proc/self/limits', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'limits-'));
    const file = path.join(dir, 'limits');
    writeFileSync(
      file,
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max processes             127403               127403               processes \n' +
        'Max open files            4096                 524288               files     \n',
    );
    expect(openFileLimit(file)).toBe(4096);
    expect(openFileLimit(path.join(dir, 'missing'))).toBeUndefined();
  });
});

describe('WebSockets at the cap', () => {
  // A cap of 30: 27 sockets (all but a tenth), 3 connections kept for HTTP.
  const MAX = 30;
  const SOCKETS = 27;
  let server: TestServer;
  let user: TestUser;
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    server = await startServer({ HTTP_MAX_CONNECTIONS: String(MAX), WS_MAX_CONNECTIONS_PER_USER: '100' });
    user = await signUp(server.url);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await server.stop();
  });

  it('logs the figures at start', () => {
    const line = server.logs.find((l) => String(l['msg']).startsWith('connections: at most'));
    expect(line).toMatchObject({ maxConnections: MAX, maxWebSockets: SOCKETS, source: 'HTTP_MAX_CONNECTIONS' });
  });

  it('refuses the upgrade past its share with 503 and Retry-After, and HTTP requests still answer', async () => {
    for (let i = 0; i < SOCKETS; i++) clients.push(liveClient(server.graphqlUrl, () => user.token));
    await Promise.all(clients.map((c) => connected(c)));

    const refused = await new Promise<{ status: number | undefined; retryAfter: string | undefined }>((resolve, reject) => {
      const socket = new WebSocket(wsUrl(server.graphqlUrl), 'graphql-transport-ws');
      socket.on('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] });
        socket.terminate();
      });
      socket.on('open', () => {
        socket.close();
        reject(new Error('the socket past the cap was accepted'));
      });
      socket.on('error', () => {});
    });
    expect(refused).toEqual({ status: 503, retryAfter: '5' });

    // The connections kept for HTTP serve requests (fetch opens new ones while the sockets stay open).
    const answers = await Promise.all([1, 2].map(() => expectData(server.graphqlUrl, '{ me { id } }', undefined, user.token)));
    expect(answers).toEqual([{ me: { id: user.id } }, { me: { id: user.id } }]);
    expect(server.logs.some((l) => l['msg'] === 'WebSocket limit reached: refusing new sockets with 503')).toBe(true);
  });
});
