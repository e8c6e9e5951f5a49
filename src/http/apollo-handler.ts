import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from '@apollo/server';
import { BodyTimeout, BodyTooLarge, readBody } from './body.ts';
import { IDEMPOTENCY_HEADER, type BufferedResponse, type IdempotentHandler } from './idempotency.ts';
import { sendJson, sendRequestTimeout } from './respond.ts';

export interface ApolloHandlerOptions<TContext extends BaseContext> {
  context: (req: IncomingMessage) => Promise<TContext>;
  /** Larger request bodies are refused with 413 before they are parsed. */
  maxBodyBytes: number;
  /** POSTs carrying an `Idempotency-Key` go through this (src/http/idempotency.ts). */
  idempotent?: IdempotentHandler;
}

/** A whole response as one string (the idempotency store keeps and replays it). */
async function buffer(result: HTTPGraphQLResponse): Promise<BufferedResponse> {
  let body: string;
  if (result.body.kind === 'complete') {
    body = result.body.string;
  } else {
    body = '';
    for await (const chunk of result.body.asyncIterator) body += chunk;
  }
  return { status: result.status ?? 200, headers: Object.fromEntries(result.headers), body };
}

/** A request refused before Apollo sees it, in GraphQL's error shape; the codes match /api/auth's. */
const refusal = (code: 'BAD_REQUEST' | 'PAYLOAD_TOO_LARGE', message: string) => ({ errors: [{ message, extensions: { code } }] });

/**
 * Apollo Server on plain node:http, through Apollo's own integration API
 * (`executeHTTPGraphQLRequest`): the body is read and JSON-parsed here, everything else (CSRF
 * prevention, content negotiation, the landing page, errors) is Apollo's. Replaces Express and its
 * middleware stack on the hot path.
 */
export function apolloHandler<TContext extends BaseContext>(server: ApolloServer<TContext>, options: ApolloHandlerOptions<TContext>) {
  return async (req: IncomingMessage, res: ServerResponse, search: string): Promise<void> => {
    let body: unknown;
    if (req.method === 'POST') {
      let text: string;
      try {
        text = (await readBody(req, options.maxBodyBytes)).toString('utf8');
      } catch (err) {
        if (err instanceof BodyTooLarge)
          sendJson(res, 413, refusal('PAYLOAD_TOO_LARGE', `The request body is larger than ${options.maxBodyBytes} bytes.`));
        else if (err instanceof BodyTimeout) sendRequestTimeout(res);
        else res.destroy();
        return;
      }
      const type = req.headers['content-type'] ?? '';
      if (type.includes('json')) {
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          sendJson(res, 400, refusal('BAD_REQUEST', 'The request body is not valid JSON.'));
          return;
        }
      } else {
        body = text;
      }
    }

    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const execute = () =>
      server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method?.toUpperCase() ?? 'GET', headers, search, body },
        context: () => options.context(req),
      });
    if (options.idempotent && req.method === 'POST' && req.headers[IDEMPOTENCY_HEADER] !== undefined) {
      await options.idempotent(req, res, body, async () => buffer(await execute()));
      return;
    }
    const result = await execute();
    for (const [name, value] of result.headers) res.setHeader(name, value);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
