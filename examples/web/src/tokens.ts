import { authClient } from './auth.ts';

/** The session is gone (expired, signed out elsewhere, account deleted): sign in again. */
export class SessionExpiredError extends Error {
  constructor() {
    super('Your session has expired. Sign in again.');
    this.name = 'SessionExpiredError';
  }
}

/**
 * The one source of API tokens, read by HTTP requests (authExchange) and by the WebSocket
 * (connectionParams). A token is reused until shortly before it expires; callers arriving while a
 * refresh is in flight join it instead of starting their own.
 */
export interface TokenSource {
  /** A token valid for a little while longer: the cached one, or a fresh one. */
  get(): Promise<string>;
  /** A fresh token, whatever the cache holds (the server refused the cached one). */
  refresh(): Promise<string>;
  /** The cached token, if any, without fetching. */
  current(): string | undefined;
  /** Whether the cached token is missing or about to expire. */
  expiresSoon(): boolean;
  /** Milliseconds until the cached token should be replaced (0 when it should be now). */
  msUntilRefresh(): number;
}

interface Cached {
  token: string;
  /** When to stop using it, on this browser's clock. */
  refreshAt: number;
}

/** `exp - iat` of a JWT, in seconds; the claims are read, not verified (the server verifies). */
function lifetimeSeconds(token: string): number {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const { exp, iat } = JSON.parse(json) as { exp?: number; iat?: number };
    if (typeof exp === 'number' && typeof iat === 'number' && exp > iat) return exp - iat;
  } catch {
    // Not a JWT we can read: treat it as short-lived.
  }
  return 60;
}

async function fetchToken(): Promise<string> {
  const { data, error } = await authClient.token();
  if (data?.token) return data.token;
  if (error?.status === 401 || error?.status === 403) throw new SessionExpiredError();
  throw new Error(error?.message || 'Could not get an API token.');
}

export function createTokenSource(load: () => Promise<string> = fetchToken): TokenSource {
  let cached: Cached | undefined;
  let inFlight: Promise<string> | undefined;

  const refresh = () =>
    (inFlight ??= load()
      .then((token) => {
        // Measured from now with the token's own lifetime, so a browser clock that is off does
        // not matter. Replaced a fifth of its lifetime early (at most 30 s early).
        const lifetime = lifetimeSeconds(token) * 1000;
        cached = { token, refreshAt: Date.now() + lifetime - Math.min(30_000, lifetime / 5) };
        return token;
      })
      .finally(() => {
        inFlight = undefined;
      }));

  const msUntilRefresh = () => (cached ? Math.max(0, cached.refreshAt - Date.now()) : 0);

  return {
    get: () => (cached && msUntilRefresh() > 0 ? Promise.resolve(cached.token) : refresh()),
    refresh,
    current: () => cached?.token,
    expiresSoon: () => msUntilRefresh() === 0,
    msUntilRefresh,
  };
}
