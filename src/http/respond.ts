import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../graphql/errors.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** The body did not arrive in time: 408, and the connection is closed (its state is unknown). */
export function sendRequestTimeout(res: ServerResponse): void {
  res.setHeader('connection', 'close');
  sendJson(res, 408, { errors: [{ message: 'The request body was not received in time.', extensions: { code: ErrorCode.REQUEST_TIMEOUT } }] });
  res.once('finish', () => res.socket?.destroySoon());
}
