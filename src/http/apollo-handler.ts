import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from '@apollo/server';
import { ErrorCode } from '../graphql/errors.ts';
import type { DocumentPolicy, OperationFields, PersistedDocument } from '../graphql/persisted-documents.ts';
import { BodyTimeout, BodyTooLarge, readBody } from './body.ts';
import { IDEMPOTENCY_HEADER, type BufferedResponse, type IdempotentHandler } from './idempotency.ts';
import { sendJson, sendRequestTimeout } from './respond.ts';

export interface ApolloHandlerOptions<TContext extends BaseContext> {
  /** `documentBytes`: the size of the operation's text (`query`), for the parse budget. */
  context: (req: IncomingMessage, documentBytes: number) => Promise<TContext>;
  /** Larger request bodies are refused with 413 before they are parsed. */
  maxBodyBytes: number;
  /** POSTs carrying an `Idempotency-Key` go through this (src/http/idempotency.ts). */
  idempotent?: IdempotentHandler;
  /** Trusted documents: which document a request runs, or its refusal (src/graphql/persisted-documents.ts). */
  documents?: DocumentPolicy;
  /** Told of a request refused by `context` (Apollo's plugins never see those): for the metrics. */
  contextFailed?: (err: unknown, body: unknown, search: string) => void;
  /** Told of an operation refused by `documents` with `code` (Apollo never sees those): for the metrics. */
  documentRefused?: (code: string, body: unknown, search: string) => void;
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

/** Bytes of the GraphQL document a request carries (`query`, in the JSON body or the query string). */
function documentBytes(body: unknown, search: string): number {
  let query: unknown;
  if (body !== null && typeof body === 'object') query = (body as { query?: unknown }).query;
  else if (search.includes('query=')) query = new URLSearchParams(search).get('query');
  return typeof query === 'string' ? Buffer.byteLength(query) : 0;
}

/** A request refused before Apollo sees it, in GraphQL's error shape; the codes match /api/auth's. */
const refusal = (code: ErrorCode, message: string) => ({ errors: [{ message, extensions: { code } }] });

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `extensions` without `persistedQuery` (undefined when nothing else is left): the id has been resolved. */
function withoutPersistedQuery(extensions: unknown): Record<string, unknown> | undefined {
  if (!isObject(extensions)) return undefined;
  const { persistedQuery: _resolved, ...rest } = extensions;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** A JSON body that asked for a listed document by id, now carrying its text (as Apollo and idempotency read it). */
function bodyWith(body: Record<string, unknown>, document: PersistedDocument): Record<string, unknown> {
  const { documentId: _id, extensions, ...rest } = body;
  const remaining = withoutPersistedQuery(extensions);
  return { ...rest, query: document.text, ...(remaining ? { extensions: remaining } : {}) };
}

/** The same for a GET's query string (`?documentId=...` or `?extensions={"persistedQuery":...}`). */
function searchWith(params: URLSearchParams, extensions: unknown, document: PersistedDocument): string {
  params.delete('documentId');
  params.set('query', document.text);
  const remaining = withoutPersistedQuery(extensions);
  if (remaining) params.set('extensions', JSON.stringify(remaining));
  else params.delete('extensions');
  return `?${params.toString()}`;
}

function jsonParam(params: URLSearchParams, name: string): unknown {
  const value = params.get(name);
  if (value === null) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value; // Apollo reports it
  }
}

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
          sendJson(res, 413, refusal(ErrorCode.PAYLOAD_TOO_LARGE, `The request body is larger than ${options.maxBodyBytes} bytes.`));
        else if (err instanceof BodyTimeout) sendRequestTimeout(res);
        else res.destroy();
        return;
      }
      const type = req.headers['content-type'] ?? '';
      if (type.includes('json')) {
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          sendJson(res, 400, refusal(ErrorCode.BAD_REQUEST, 'The request body is not valid JSON.'));
          return;
        }
      } else {
        body = text;
      }
    }

    // The parse budget charges the text the client sent: a listed document sent by id costs nothing
    // (Apollo parses and validates each listed text once, then keeps it).
    let sentBytes = documentBytes(body, search);
    // Trusted documents: a request by id runs the listed text; what the policy refuses stops here.
    const method = req.method?.toUpperCase() ?? 'GET';
    if (options.documents && (method === 'GET' || (method === 'POST' && isObject(body)))) {
      let fields: OperationFields;
      let params: URLSearchParams | undefined;
      if (method === 'GET') {
        params = new URLSearchParams(search);
        fields = {
          query: params.get('query') ?? undefined,
          documentId: params.get('documentId') ?? undefined,
          operationName: params.get('operationName') ?? undefined,
          extensions: jsonParam(params, 'extensions'),
        };
      } else {
        fields = body as OperationFields;
      }
      const resolution = options.documents.resolve(fields, 'http');
      if (resolution.kind === 'refused') {
        options.documentRefused?.(resolution.code, body, search);
        sendJson(res, 400, refusal(resolution.code, resolution.message));
        return;
      }
      if (resolution.kind === 'listed') {
        sentBytes = 0;
        if (params) search = searchWith(params, fields.extensions, resolution.document);
        else body = bodyWith(body as Record<string, unknown>, resolution.document);
      }
    }

    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const execute = () =>
      server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers, search, body },
        context: options.contextFailed
          ? () =>
              options.context(req, sentBytes).catch((err: unknown) => {
                options.contextFailed?.(err, body, search);
                throw err;
              })
          : () => options.context(req, sentBytes),
      });
    if (options.idempotent && req.method === 'POST' && req.headers[IDEMPOTENCY_HEADER] !== undefined) {
      await options.idempotent(req, res, body, async () => buffer(await execute()), sentBytes);
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
