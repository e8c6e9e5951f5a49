import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromNodeHeaders } from 'better-auth/node';
import { setResponse } from 'better-call/node';
import { AUTH_BASE_PATH, CLIENT_CHAIN_HEADER, type Auth } from '../auth/auth.ts';
import type { Config } from '../config.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../logger.ts';
import { BodyTimeout, BodyTooLarge, readBody } from './body.ts';
import { sendJson, sendRequestTimeout } from './respond.ts';

/**
 * Better Auth's 429 says `X-Retry-After`; clients and proxies know the standard `Retry-After`.
 * Its answers are per user (sessions, tokens): `Cache-Control: no-store` unless it set its own.
 */
function withStandardHeaders(response: Response, url: string): Response {
  const headers = new Headers(response.headers);
  const retryAfter = headers.get('x-retry-after');
  if (retryAfter && !headers.has('retry-after')) headers.set('retry-after', retryAfter);
  if (!headers.has('cache-control') && !url.startsWith(`${AUTH_BASE_PATH}/jwks`)) headers.set('cache-control', 'no-store');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** Sign-up and sign-in bodies are small; Better Auth's own Node adapter would buffer any size. */
export const AUTH_MAX_BODY_BYTES = 64 * 1024;

/** Seconds clients are asked to wait when the database is down (`Retry-After`). */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * Node handler for everything under `/api/auth`: the body is read here with a size limit (413
 * beyond it, declared or chunked), then handed to Better Auth as a web Request; the socket address
 * goes along for the rate limiter.
 *
 * A database failure would otherwise reach clients as a 500, or as a 401 where Better Auth reads
 * the session (a client would sign its user out). So when Better Auth throws, or answers 401 or
 * 5xx, the classifier or a quick, bounded probe (`databaseUp`, on Better Auth's pool) decides: database
 * down -> 503 with Retry-After and code SERVICE_UNAVAILABLE; database up -> Better Auth's answer
 * (an error thrown goes on to the HTTP layer: logged, 500).
 */
export function authHandler(auth: Auth, config: Config, logger: Logger, databaseUp: () => Promise<boolean>) {
  const behindProxies = config.auth.trustedProxies.length > 0;
  return async (req: IncomingMessage, res: ServerResponse) => {
    const peer = req.socket.remoteAddress;
    const forwarded = behindProxies ? req.headers['x-forwarded-for'] : undefined;
    // Always overwritten (undefined is dropped by fromNodeHeaders): a client's own value never counts.
    req.headers[CLIENT_CHAIN_HEADER] = peer && forwarded ? `${String(forwarded)}, ${peer}` : peer;
    let body: Buffer | undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      try {
        body = await readBody(req, AUTH_MAX_BODY_BYTES);
      } catch (err) {
        if (err instanceof BodyTimeout) {
          sendRequestTimeout(res);
          return;
        }
        if (!(err instanceof BodyTooLarge)) throw err;
        sendJson(res, 413, { message: `The request body is larger than ${AUTH_MAX_BODY_BYTES} bytes.`, code: 'PAYLOAD_TOO_LARGE' });
        return;
      }
    }
    const origin = requestOrigin(req);
    if (origin === undefined) {
      sendJson(res, 400, { message: 'The Host header is not a valid host[:port].', code: 'BAD_REQUEST' });
      return;
    }
    const request = new Request(`${origin}${req.url}`, {
      method: req.method,
      headers: fromNodeHeaders(req.headers),
      ...(body && body.length > 0 ? { body } : {}),
    });
    let response: Response;
    try {
      response = await auth.handler(request);
    } catch (err) {
      if (!isDatabaseUnavailable(err) && (await databaseUp())) throw err;
      logger.warn({ err }, 'auth request failed: database unavailable');
      unavailable(res);
      return;
    }
    if ((response.status === 401 || response.status >= 500) && !(await databaseUp())) {
      await response.body?.cancel();
      unavailable(res);
      return;
    }
    await setResponse(res, withStandardHeaders(response, req.url ?? ''));
  };
}

/** RFC 9110's Host: an IP literal, an IPv4 address or a registered name, and an optional port. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]+)(?::[0-9]{1,5})?$/;

/**
 * The origin Better Auth sees the request at, or undefined when the Host header cannot be one (`Host: [`
 * made `new Request` throw: a 500 and two error lines for a client's typo). X-Forwarded-Proto counts
 * only when it names a scheme this server could be reached by.
 */
function requestOrigin(req: IncomingMessage): string | undefined {
  const forwarded = (String(req.headers['x-forwarded-proto'] ?? '').split(',')[0] ?? '').trim().toLowerCase();
  const encrypted = 'encrypted' in req.socket && req.socket.encrypted;
  const proto = forwarded === 'http' || forwarded === 'https' ? forwarded : encrypted ? 'https' : 'http';
  // HTTP/1.0 may omit Host: the server's own address then stands in, as before.
  const host =
    req.headers.host ??
    `${req.socket.localAddress?.includes(':') ? `[${req.socket.localAddress}]` : req.socket.localAddress}:${req.socket.localPort}`;
  if (!HOST.test(host) || !URL.canParse(`${proto}://${host}${req.url ?? '/'}`)) return undefined;
  return `${proto}://${host}`;
}

function unavailable(res: ServerResponse): void {
  res.setHeader('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  sendJson(res, 503, { message: 'The database is unavailable right now; try again shortly.', code: 'SERVICE_UNAVAILABLE' });
}
