import type http from 'node:http';

export interface RequestTracker {
  /** Requests that have started and whose response has not finished. */
  inFlight(): number;
  /**
   * Stops accepting connections, closes idle keep-alive connections (now and whenever a request
   * finishes), and resolves true once no request is in flight, or false at `deadline` (epoch ms).
   */
  drain(deadline: number): Promise<boolean>;
  /** Cuts every connection, in flight or not. */
  cutAll(): void;
}

export function trackRequests(server: http.Server): RequestTracker {
  let inFlight = 0;
  let draining = false;
  let settle: (() => void) | undefined;
  // First among the request listeners: the route handler may answer at once (/healthz does, in the
  // same tick), and a header set after that would throw out of the server's parser and crash the
  // process, cutting every request in flight.
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight++;
    // A response started during the drain ends its connection: no keep-alive to a closing server.
    // (A request can arrive during the drain on a connection accepted before it: a keep-alive
    // client's next request, or a connection the kernel had accepted just before the listener closed.)
    if (draining && !res.headersSent) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight--;
      if (draining) {
        // The connection turns idle just after its response closes.
        setImmediate(() => server.closeIdleConnections());
        if (inFlight === 0) settle?.();
      }
    });
  });
  return {
    inFlight: () => inFlight,
    drain(deadline) {
      draining = true;
      if (server.listening) server.close();
      server.closeIdleConnections();
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
        settle = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    },
    cutAll: () => server.closeAllConnections(),
  };
}
