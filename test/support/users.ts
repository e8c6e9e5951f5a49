import { randomUUID } from 'node:crypto';

export interface TestUser {
  id: string;
  email: string;
  name: string;
  password: string;
  /** Better Auth's session cookie, as a `Cookie` header value. */
  cookie: string;
  /** A JWT from `GET /api/auth/token`. */
  token: string;
}

function cookieHeader(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

/**
 * Node's fetch sends Sec-Fetch-* headers like a browser, so Better Auth checks the Origin as it
 * would a browser's: send the server's own origin, as a page served from it would.
 */
function authHeaders(baseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', origin: new URL(baseUrl).origin, ...extra };
}

async function expectStatus(res: Response, status: number, what: string): Promise<unknown> {
  const body: unknown = await res.json().catch(() => undefined);
  if (res.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${res.status}: ${JSON.stringify(body)}`);
  }
  return body;
}

/** Attempts of one auth request the server answers 503 with Retry-After (it asks for a retry). */
const ATTEMPTS = 5;

/**
 * fetch, as a well-behaved client: a 503 that carries Retry-After (the database or the auth pool
 * did not answer within its bound, which a loaded test machine can cause) is retried after the
 * time it names, a few times. Anything else, and a 503 without the header, is the answer.
 */
async function fetchRetrying(url: string, init: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, init);
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status !== 503 || !(retryAfter > 0) || attempt === ATTEMPTS) return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, Math.min(retryAfter, 5) * 1000));
  }
}

/** A JWT for the session behind `cookie`, from the real Better Auth endpoint. */
export async function fetchToken(baseUrl: string, cookie: string): Promise<string> {
  const res = await fetchRetrying(`${baseUrl}/api/auth/token`, { headers: authHeaders(baseUrl, { cookie }) });
  const body = (await expectStatus(res, 200, 'GET /api/auth/token')) as { token: string };
  return body.token;
}

/** Signs a new, unique user up through `POST /api/auth/sign-up/email` and fetches a JWT. */
export async function signUp(baseUrl: string, fields: Partial<Pick<TestUser, 'email' | 'name' | 'password'>> = {}): Promise<TestUser> {
  const email = fields.email ?? `user-${randomUUID()}@example.test`;
  const name = fields.name ?? `User ${email.slice(5, 13)}`;
  const password = fields.password ?? `pw-${randomUUID()}`;
  const res = await fetchRetrying(`${baseUrl}/api/auth/sign-up/email`, {
    method: 'POST',
    headers: authHeaders(baseUrl),
    body: JSON.stringify({ email, name, password }),
  });
  const body = (await expectStatus(res, 200, 'POST /api/auth/sign-up/email')) as { user: { id: string } };
  const cookie = cookieHeader(res);
  return { id: body.user.id, email, name, password, cookie, token: await fetchToken(baseUrl, cookie) };
}

/** Signs an existing user in through `POST /api/auth/sign-in/email`; returns the session cookie. */
export async function signIn(baseUrl: string, email: string, password: string): Promise<string> {
  const res = await fetchRetrying(`${baseUrl}/api/auth/sign-in/email`, {
    method: 'POST',
    headers: authHeaders(baseUrl),
    body: JSON.stringify({ email, password }),
  });
  await expectStatus(res, 200, 'POST /api/auth/sign-in/email');
  return cookieHeader(res);
}
