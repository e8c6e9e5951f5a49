import net from 'node:net';

export interface TcpProxy {
  host: string;
  port: number;
  /** `url` (a postgres:// URL) with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  /** An outage: every open connection is reset, and new ones are reset as soon as they arrive. */
  cut(): void;
  /** A server that stops answering: connections are accepted (and open ones kept) but nothing is forwarded. */
  blackhole(): void;
  /** Forward again; connections held by `blackhole()` are reset, as a restarted network path would. */
  restore(): void;
  /** How many connections the proxy holds open now. */
  open(): number;
  close(): Promise<void>;
}

type Mode = 'forward' | 'cut' | 'blackhole';

/**
 * A TCP proxy in front of a server (PostgreSQL in the tests), to make faults that a real network
 * makes: resets, refusals, silence.
 */
export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: Mode = 'forward';
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | undefined }>();

  const reset = (pair: { client: net.Socket; upstream: net.Socket | undefined }) => {
    pair.client.resetAndDestroy();
    pair.upstream?.resetAndDestroy();
    pairs.delete(pair);
  };

  const server = net.createServer((client) => {
    const pair: { client: net.Socket; upstream: net.Socket | undefined } = { client, upstream: undefined };
    client.on('error', () => {});
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    pairs.add(pair);
    if (mode === 'cut') {
      reset(pair);
      return;
    }
    if (mode === 'blackhole') {
      client.pause();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    urlFor(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut() {
      mode = 'cut';
      for (const pair of [...pairs]) reset(pair);
    },
    blackhole() {
      mode = 'blackhole';
      // Open connections go silent: bytes already sent are never delivered, nothing comes back.
      for (const { client, upstream } of pairs) {
        client.unpipe();
        upstream?.unpipe();
        client.pause();
        upstream?.pause();
      }
    },
    restore() {
      if (mode === 'blackhole') for (const pair of [...pairs]) if (pair.client.isPaused()) reset(pair);
      mode = 'forward';
    },
    open: () => pairs.size,
    close: () =>
      new Promise((resolve) => {
        for (const pair of [...pairs]) reset(pair);
        server.close(() => resolve());
      }),
  };
}
