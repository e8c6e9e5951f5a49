/** The raw HTTP outcome of a GraphQL POST, for asserting status, challenge and exact body. */
export async function postGraphQL(
  graphqlUrl: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  challenge: string | null;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}> {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as never };
}

/** The response every refused token gets: nothing about which check failed. */
export const INVALID_TOKEN = {
  status: 401,
  challenge: 'Bearer error="invalid_token", error_description="The token is invalid"',
  body: { errors: [{ message: 'The token is invalid.', extensions: { code: 'UNAUTHENTICATED' } }] },
};

export const EXPIRED_TOKEN = {
  status: 401,
  challenge: 'Bearer error="invalid_token", error_description="The token has expired"',
  body: { errors: [{ message: 'The token has expired; get a new one.', extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' } }] },
};

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
