import type { webcrypto } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Logger } from '../logger.ts';
import type { Viewer } from '../users/user.model.ts';

/** Asymmetric algorithms Better Auth can sign with; accepted in the JWKS modes. */
export const JWKS_ALGORITHMS = ['EdDSA', 'ES256', 'ES512', 'RS256', 'PS256'];
/** The one algorithm of the shared-secret mode. */
export const SECRET_ALGORITHMS = ['HS256'];

/** Why a token was refused. Only `expired` reaches the client (so that it knows to refresh). */
export class TokenRejected extends Error {
  override name = 'TokenRejected';
  readonly expired: boolean;
  constructor(reason: string, expired = false, options?: ErrorOptions) {
    super(reason, options);
    this.expired = expired;
  }
}

export interface TokenVerifier {
  /** The viewer the token stands for; rejects with TokenRejected and nothing else. */
  verify(token: string): Promise<Viewer>;
}

/** Where verification keys come from, and a counter that changes whenever they change. */
export interface KeySource {
  key: JWTVerifyGetKey | webcrypto.CryptoKey;
  generation(): number;
}

export interface VerifierOptions {
  issuer: string;
  audience: string;
  algorithms: string[];
  clockSkewSeconds: number;
  maxTokenAgeSeconds: number;
  /** Verified tokens remembered (until their expiry) so that a repeat costs no signature check. */
  cacheSize?: number;
}

/** Header parameters that point at keys elsewhere. They are never followed: tokens with them are refused. */
const FOREIGN_KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'];
const MAX_KID_LENGTH = 256;

/**
 * A JWKS cached in memory. A token naming a `kid` the set lacks triggers one reload, shared by
 * concurrent requests and at most once per cooldown, so rotated keys are picked up without a
 * restart and made-up kids cannot flood the source. When a reload fails, the last good set keeps
 * serving. With `maxAgeMs`, a set older than that is refreshed in the background.
 */
export function cachedKeySet(
  load: () => Promise<JSONWebKeySet>,
  { cooldownMs, maxAgeMs, logger }: { cooldownMs: number; maxAgeMs?: number; logger: Logger },
): KeySource {
  let local: JWTVerifyGetKey | undefined;
  let fingerprint = '';
  let generation = 0;
  let loadedAt = 0;
  let lastAttempt = 0;
  let loading: Promise<void> | undefined;

  const reload = () =>
    (loading ??= (async () => {
      lastAttempt = Date.now();
      try {
        const jwks = await load();
        if (!Array.isArray(jwks?.keys)) throw new Error('not a JWK set');
        const next = JSON.stringify(jwks.keys);
        if (next !== fingerprint) {
          fingerprint = next;
          local = createLocalJWKSet(jwks);
          generation++;
        }
        loadedAt = Date.now();
      } catch (err) {
        logger.warn({ err }, local ? 'could not reload signing keys; keeping the last good set' : 'could not load signing keys');
      } finally {
        loading = undefined;
      }
    })());

  const key: JWTVerifyGetKey = async (header, token) => {
    // Before the first successful load too, at most one attempt per cooldown: tokens must not be
    // able to hammer an unreachable key source.
    // A caller arriving while the first load is in flight joins it (it would otherwise be refused
    // for the cooldown: two sockets connecting at once to a fresh instance, one got "invalid token").
    if (!local && loading) await loading;
    else if (!local && Date.now() - lastAttempt >= cooldownMs) await reload();
    else if (maxAgeMs !== undefined && Date.now() - loadedAt > maxAgeMs && Date.now() - lastAttempt > cooldownMs) void reload();
    if (!local) throw new TokenRejected('no signing keys available');
    try {
      return await local(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || Date.now() - lastAttempt < cooldownMs) throw err;
      await reload();
      return local(header, token);
    }
  };
  return { key, generation: () => generation };
}

/** A fixed HS256 key, imported once (not on every verification). */
export async function sharedSecretKey(secret: string): Promise<KeySource> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  return { key, generation: () => 0 };
}

// Subjects are ids: printable, and short enough for an index. (A NUL would even fail in PostgreSQL.)
const SUBJECT = /^[^\p{Cc}]{1,255}$/u;

function viewerFrom(payload: JWTPayload): Viewer {
  if (typeof payload.sub !== 'string' || payload.sub.trim() === '' || !SUBJECT.test(payload.sub)) throw new TokenRejected('bad subject');
  if (typeof payload['email'] !== 'string') throw new TokenRejected('no email claim');
  const name = payload['name'];
  return { id: payload.sub, email: payload['email'], name: typeof name === 'string' && name !== '' ? name : null };
}

/**
 * Verifies JWTs: signature by a key of `keys` with an allowed algorithm; `exp`, `iat`, `iss`,
 * `aud` and `sub` required; `nbf` and `iat` honoured within the clock skew; tokens older than the
 * maximum age refused. Every failure, including the TypeErrors jose throws for keys of the wrong
 * type, becomes a TokenRejected.
 */
export function createTokenVerifier(keys: KeySource, options: VerifierOptions): TokenVerifier {
  const cache = new LRUCache<string, { viewer: Viewer; until: number; generation: number }>({ max: options.cacheSize ?? 10_000 });
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: options.algorithms,
    clockTolerance: options.clockSkewSeconds,
    maxTokenAge: options.maxTokenAgeSeconds,
    requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub'],
  };

  return {
    async verify(token) {
      const hit = cache.get(token);
      if (hit && Date.now() < hit.until && hit.generation === keys.generation()) return hit.viewer;

      let payload: JWTPayload;
      try {
        const header = decodeProtectedHeader(token);
        if (FOREIGN_KEY_HEADERS.some((h) => h in header)) throw new TokenRejected('key reference in header');
        if (header.kid !== undefined && (typeof header.kid !== 'string' || header.kid.length > MAX_KID_LENGTH)) {
          throw new TokenRejected('bad kid');
        }
        // jose's overloads split on the key's type; both are the same call.
        ({ payload } =
          typeof keys.key === 'function' ? await jwtVerify(token, keys.key, verifyOptions) : await jwtVerify(token, keys.key, verifyOptions));
      } catch (err) {
        if (err instanceof TokenRejected) throw err;
        if (err instanceof errors.JWTExpired) throw new TokenRejected('expired', true, { cause: err });
        throw new TokenRejected(err instanceof Error ? err.message : 'verification failed', false, { cause: err });
      }
      const viewer = viewerFrom(payload);
      // Never served past `exp`, nor past the maximum age, nor across a change of keys.
      const until = Math.min(payload.exp! * 1000, (payload.iat! + options.maxTokenAgeSeconds) * 1000);
      cache.set(token, { viewer, until, generation: keys.generation() });
      return viewer;
    },
  };
}
