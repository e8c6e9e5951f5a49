import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that a test can open and shut: shut, it drops every
 * connection it holds and resets new ones at once (as a database host that went away would).
 * (Named apart from tcp-proxy.ts, which another branch adds.)
 */
export interface DbGate {
  /** `target` with host and port replaced by the gate's. */
  url: string;
  open(): void;
  shut(): void;
  close(): Promise<void>;
}

export async function startDbGate(target: string, { open = true } = {}): Promise<DbGate> {
  const upstream = new URL(target);
  const sockets = new Set<net.Socket>();
  let isOpen = open;
  const server = net.createServer((client) => {
    if (!isOpen) {
      client.resetAndDestroy();
      return;
    }
    const server = net.connect(Number(upstream.port || 5432), upstream.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    open: () => {
      isOpen = true;
    },
    shut: () => {
      isOpen = false;
      for (const s of sockets) s.resetAndDestroy();
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
