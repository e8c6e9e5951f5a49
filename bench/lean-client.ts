import net from 'node:net';

/**
 * A minimal HTTP/1.1 client over one keep-alive TCP connection, for benches that need thousands
 * of concurrent clients from one process on the machine that also runs the server: a request is a
 * prepared buffer, a response is parsed only as far as status, `Retry-After` and the body. About a
 * tenth of the CPU of `fetch` per request, so that the client is not what saturates first.
 */
export interface LeanResponse {
  status: number;
  /** The `Retry-After` header, when sent. */
  retryAfter: string | undefined;
  body: string;
}

export class LeanConnection {
  readonly #socket: net.Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: { resolve: (r: LeanResponse) => void; reject: (e: Error) => void } | undefined;
  #closed: Error | undefined;
  readonly connected: Promise<void>;

  constructor(host: string, port: number) {
    this.#socket = net.connect({ host, port, noDelay: true });
    this.connected = new Promise((resolve, reject) => {
      this.#socket.once('connect', resolve);
      this.#socket.once('error', reject);
    });
    this.connected.catch(() => {});
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    const fail = (err: Error) => {
      this.#closed ??= err;
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.reject(err);
    };
    this.#socket.on('error', fail);
    this.#socket.on('close', () => fail(new Error('connection closed')));
  }

  /** Sends one request (a complete HTTP/1.1 message) and resolves with its response. */
  send(request: Buffer): Promise<LeanResponse> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#pending) return Promise.reject(new Error('one request at a time'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #parse(): void {
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = this.#buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    let length = 0;
    let chunked = false;
    let retryAfter: string | undefined;
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.includes('chunked');
      else if (name === 'retry-after') retryAfter = value;
    }
    let body: string;
    let rest: Buffer;
    if (chunked) {
      // Chunks until the zero-length one; trailers are not expected.
      const parts: Buffer[] = [];
      let at = end + 4;
      for (;;) {
        const lineEnd = this.#buffer.indexOf('\r\n', at);
        if (lineEnd === -1) return;
        const size = parseInt(this.#buffer.toString('latin1', at, lineEnd), 16);
        if (this.#buffer.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          rest = this.#buffer.subarray(lineEnd + 4);
          break;
        }
        parts.push(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('utf8');
    } else {
      if (this.#buffer.length < end + 4 + length) return;
      body = this.#buffer.toString('utf8', end + 4, end + 4 + length);
      rest = this.#buffer.subarray(end + 4 + length);
    }
    this.#buffer = rest.length > 0 ? Buffer.from(rest) : Buffer.alloc(0);
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.resolve({ status, retryAfter, body });
  }
}

/** A complete request message for `LeanConnection.send`. */
export function httpRequest(method: string, path: string, host: string, headers: Record<string, string> = {}, body?: string): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${host}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`content-length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`);
}

export const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
