import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { ClientError, rawRequest } from 'graphql-request';
import { print, type GraphQLFormattedError } from 'graphql';

export interface GraphQLResult<TData> {
  status: number;
  headers: Headers;
  data: TData | null | undefined;
  errors: GraphQLFormattedError[] | undefined;
}

type Document<TData, TVars> = TypedDocumentNode<TData, TVars> | string;

/**
 * Sends an operation over HTTP, as a client would, and returns status, data and errors without
 * throwing (tests assert on errors as much as on data). `token` goes in `Authorization: Bearer`.
 */
export async function execute<TData, TVars extends object = Record<string, never>>(
  graphqlUrl: string,
  document: Document<TData, TVars>,
  variables?: TVars,
  token?: string,
): Promise<GraphQLResult<TData>> {
  const query = typeof document === 'string' ? document : print(document);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  try {
    const res = await rawRequest<TData>({ url: graphqlUrl, query, variables: variables, requestHeaders: headers });
    return { status: res.status, headers: res.headers, data: res.data, errors: res.errors as GraphQLFormattedError[] | undefined };
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    const { status, headers: resHeaders, data, errors } = err.response;
    return { status, headers: resHeaders, data: data as TData | null | undefined, errors: errors as GraphQLFormattedError[] | undefined };
  }
}

/** Like `execute`, but any error fails the test, printing the operation and the response. */
export async function expectData<TData, TVars extends object = Record<string, never>>(
  graphqlUrl: string,
  document: Document<TData, TVars>,
  variables?: TVars,
  token?: string,
): Promise<TData> {
  const result = await execute(graphqlUrl, document, variables, token);
  if (result.status !== 200 || result.errors?.length || !result.data) {
    const query = typeof document === 'string' ? document : print(document);
    throw new Error(
      `GraphQL request failed (HTTP ${result.status})\noperation:\n${query}\nvariables: ${JSON.stringify(variables)}\n` +
        `response: ${JSON.stringify({ data: result.data, errors: result.errors }, null, 2)}`,
    );
  }
  return result.data;
}

/** The `extensions.code` of each error, in order. */
export function codes(result: GraphQLResult<unknown>): unknown[] {
  return (result.errors ?? []).map((e) => e.extensions?.['code']);
}
