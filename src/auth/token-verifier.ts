import type { webcrypto } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../logger.ts';

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

/**
 * Who a verified token speaks for, as its claims say. Whether that user still exists (and their
 * current name) is the users domain's to say: auth/ knows tokens, not accounts.
 */
export interface TokenSubject {
  id: string;
  email: string;
  name: string | null;
}

export interface TokenVerifier {
  /** The subject the token stands for; rejects with TokenRejected and nothing else. */
  verify(token: string): Promise<TokenSubject>;
  /** Loads the verification keys; called at start-up, before the server listens. */
  warmUp(): Promise<boolean>;
}

/** Where verification keys come from, and a counter that changes whenever they change. */
export interface KeySource {
  key: JWTVerifyGetKey | webcrypto.CryptoKey;
  generation(): number;
  /** Loads the keys now (at start-up, before the server is ready); true when a key set is in memory afterwards. */
  warmUp(): Promise<boolean>;
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

export interface KeySetOptions {
  /** Least time between the END of one load and the start of the next. */
  cooldownMs: number;
  /** A set older than this is refreshed in the background (remote mode). */
  maxAgeMs?: number;
  /**
   * A token naming an unknown key while the cooldown runs waits for the next load (at most
   * `cooldownMs`) instead of being refused, when the set in hand was loaded before the token was
   * issued: its key may simply be newer than the set. For a cheap source (in process, 1 s cooldown).
   */
  waitForNextLoad?: boolean;
  logger: Logger;
}

/** `iat` of a token in milliseconds, rounded up (iat is whole seconds), read before verification. */
function issuedAtMs(token: { payload: string | Uint8Array }): number {
  try {
    const payload = typeof token.payload === 'string' ? Buffer.from(token.payload, 'base64url') : token.payload;
    const iat = (JSON.parse(Buffer.from(payload).toString('utf8')) as { iat?: unknown }).iat;
    return typeof iat === 'number' ? (Math.floor(iat) + 1) * 1000 : 0;
  } catch {
    return 0;
  }
}

/**
 * A JWKS cached in memory. A token naming a `kid` the set lacks triggers one reload, at most once
 * per cooldown counted from the end of the previous load, so rotated keys are picked up without a
 * restart and made-up kids cannot flood the source. Every caller arriving while a load runs joins
 * it (a caller is never refused because someone else's load has not finished). When a reload
 * fails, the last good set keeps serving.
 */
export function cachedKeySet(load: () => Promise<JSONWebKeySet>, { cooldownMs, maxAgeMs, waitForNextLoad, logger }: KeySetOptions): KeySource {
  let local: JWTVerifyGetKey | undefined;
  let fingerprint = '';
  let generation = 0;
  let loadedAt = 0;
  let loadStartedAt = 0;
  /** When the last load ended (success or failure); the cooldown counts from here. */
  let settledAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;
  let scheduled: Promise<void> | undefined;

  const reload = () =>
    (loading ??= (async () => {
      loadStartedAt = Date.now();
      try {
        const jwks = await load();
        if (!Array.isArray(jwks.keys)) throw new Error('not a JWK set');
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
        settledAt = Date.now();
        loading = undefined;
      }
    })());
  const coolingDown = () => Date.now() - settledAt < cooldownMs;
  // The one load allowed when the cooldown ends, shared by everyone waiting for it.
  const nextLoad = () =>
    (scheduled ??= (async () => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, settledAt + cooldownMs - Date.now())).unref());
      scheduled = undefined;
      await reload();
    })());

  const key: JWTVerifyGetKey = async (header, token) => {
    if (loading) await loading;
    if (!local) {
      // Before the first successful load too, at most one attempt per cooldown: tokens must not be
      // able to hammer an unreachable key source.
      if (!coolingDown()) await reload();
      // The rule is wrong here: reload() may have set `local`, which TypeScript cannot see (it keeps
      // the narrowing to undefined from above across the call; microsoft/TypeScript#9998).
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (!local) throw new TokenRejected('no signing keys available');
    } else if (maxAgeMs !== undefined && Date.now() - loadedAt > maxAgeMs && !coolingDown()) {
      void reload();
    }
    try {
      return await local(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      if (loading) await loading;
      else if (!coolingDown()) await reload();
      else if (waitForNextLoad && loadStartedAt < issuedAtMs(token)) await nextLoad();
      else throw err;
      return local(header, token);
    }
  };
  return {
    key,
    generation: () => generation,
    warmUp: () => reload().then(() => local !== undefined),
  };
}

/** A fixed HS256 key, imported once (not on every verification). */
export async function sharedSecretKey(secret: string): Promise<KeySource> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  return { key, generation: () => 0, warmUp: () => Promise.resolve(true) };
}

// Subjects are ids: printable, and short enough for an index. (A NUL would even fail in PostgreSQL.)
const SUBJECT = /^[^\p{Cc}]{1,255}$/u;

function subjectFrom(payload: JWTPayload): TokenSubject {
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
  const cache = new LRUCache<string, { subject: TokenSubject; until: number; generation: number }>({ max: options.cacheSize ?? 10_000 });
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: options.algorithms,
    clockTolerance: options.clockSkewSeconds,
    maxTokenAge: options.maxTokenAgeSeconds,
    requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub'],
  };

  return {
    warmUp: () => keys.warmUp(),
    async verify(token) {
      const hit = cache.get(token);
      if (hit && Date.now() < hit.until && hit.generation === keys.generation()) return hit.subject;

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
      const subject = subjectFrom(payload);
      // jwtVerify has checked both (requiredClaims, numeric); this only tells TypeScript so.
      const { exp, iat } = payload;
      if (exp === undefined || iat === undefined) throw new TokenRejected('no exp or iat');
      // Never served past `exp`, nor past the maximum age, nor across a change of keys.
      const until = Math.min(exp * 1000, (iat + options.maxTokenAgeSeconds) * 1000);
      cache.set(token, { subject, until, generation: keys.generation() });
      return subject;
    },
  };
}
