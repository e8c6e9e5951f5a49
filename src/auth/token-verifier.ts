import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Auth } from './auth.ts';
import type { Viewer } from './viewer.ts';

/** Why a token was refused. Only `expired` is told to the client (so it knows to refresh). */
export class TokenRejected extends Error {
  override name = 'TokenRejected';
  readonly expired: boolean;
  constructor(reason: string, expired = false, options?: ErrorOptions) {
    super(reason, options);
    this.expired = expired;
  }
}

export interface TokenVerifier {
  /** Resolves with the viewer the token stands for; rejects with TokenRejected, never anything else. */
  verify(token: string): Promise<Viewer>;
}

export interface VerifyOptions {
  issuer: string;
  audience: string;
  /** Accepted signature algorithms: an explicit allow-list, never "whatever fits the key". */
  algorithms: string[];
}

/** Better Auth's public keys, read in process (no HTTP), re-read when a token names an unknown key. */
export function betterAuthKeys(auth: Auth): () => Promise<JSONWebKeySet> {
  return async () => auth.api.getJwks();
}

const REFRESH_COOLDOWN_MS = 10_000;

/**
 * Verifies JWTs against a key set it caches. A token whose `kid` is not in the cache triggers one
 * reload (shared by concurrent requests, at most every 10 s), so rotated keys are picked up
 * without a restart and a flood of made-up kids cannot flood the key source.
 */
export function createTokenVerifier(loadKeys: () => Promise<JSONWebKeySet>, options: VerifyOptions): TokenVerifier {
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  let loading: Promise<void> | undefined;
  let loadedAt = 0;

  const reload = () =>
    (loading ??= loadKeys()
      .then((jwks) => {
        keys = createLocalJWKSet(jwks);
        loadedAt = Date.now();
      })
      .finally(() => {
        loading = undefined;
      }));

  const check = async (token: string) => {
    if (!keys) await reload();
    try {
      return await jwtVerify(token, keys!, { ...options, requiredClaims: ['exp', 'sub'] });
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey && Date.now() - loadedAt > REFRESH_COOLDOWN_MS) {
        await reload();
        return jwtVerify(token, keys!, { ...options, requiredClaims: ['exp', 'sub'] });
      }
      throw err;
    }
  };

  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await check(token));
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw new TokenRejected('expired', true, { cause: err });
        // JOSE errors, and the plain TypeErrors jose throws for keys of the wrong type: all refusals.
        throw new TokenRejected(err instanceof Error ? err.message : 'verification failed', false, { cause: err });
      }
      if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenRejected('no subject');
      if (typeof payload['email'] !== 'string') throw new TokenRejected('no email claim');
      const name = payload['name'];
      return { id: payload.sub, email: payload['email'], name: typeof name === 'string' && name !== '' ? name : null };
    },
  };
}
