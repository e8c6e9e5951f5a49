import { readFileSync } from 'node:fs';

/**
 * The process's limit on open files (its soft RLIMIT_NOFILE, which Node raises to the hard limit at
 * start), read from /proc/self/limits; undefined where that cannot be read (not Linux).
 */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(limits, 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  if (soft === undefined) return undefined;
  // "unlimited" is allowed by the kernel for no resource but this one's hard cap (fs.nr_open).
  return soft === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(soft);
}

/**
 * Descriptors kept free of client connections besides the database connections: stdio, log files,
 * the runtime's own (epoll, signals, worker pipes), Redis, a module or file read late.
 */
export const OTHER_FILES = 256;
/** Used when the open-file limit cannot be read: the cap this server always had. */
export const FALLBACK_MAX_CONNECTIONS = 10_000;
/** At most this many connections are kept for HTTP when WebSockets fill the rest. */
const MAX_HTTP_RESERVE = 1_000;

export interface ConnectionLimits {
  /** Open client connections of every kind (HTTP keep-alive and WebSocket); node:http drops new ones past it. */
  maxConnections: number;
  /** WebSockets open at once; an upgrade past it is refused with 503 so that HTTP keeps room. */
  maxWebSockets: number;
  /** Where the figure came from, for the start-up log line. */
  source: 'HTTP_MAX_CONNECTIONS' | 'open-file limit' | 'fallback';
  openFiles: number | undefined;
  /** Descriptors kept for everything but client connections. */
  reservedFiles: number;
}

/**
 * HTTP_MAX_CONNECTIONS when set, else what the open-file limit leaves once `databaseConnections`
 * (every pool, the LISTEN connection, probes) and OTHER_FILES are kept aside. Of that, WebSockets
 * may take all but a tenth (at most MAX_HTTP_RESERVE): with sockets at their cap, HTTP requests
 * still find a free connection instead of being dropped.
 */
export function connectionLimits(configured: number | undefined, openFiles: number | undefined, databaseConnections: number): ConnectionLimits {
  const reservedFiles = databaseConnections + OTHER_FILES;
  let maxConnections: number;
  let source: ConnectionLimits['source'];
  if (configured !== undefined) {
    maxConnections = configured;
    source = 'HTTP_MAX_CONNECTIONS';
  } else if (openFiles !== undefined) {
    // A tiny limit (ulimit -n 256) still leaves a few connections; the log line says why so few.
    maxConnections = Math.max(16, openFiles - reservedFiles);
    source = 'open-file limit';
  } else {
    maxConnections = FALLBACK_MAX_CONNECTIONS;
    source = 'fallback';
  }
  const httpReserve = Math.min(MAX_HTTP_RESERVE, Math.ceil(maxConnections / 10));
  return { maxConnections, maxWebSockets: Math.max(1, maxConnections - httpReserve), source, openFiles, reservedFiles };
}
