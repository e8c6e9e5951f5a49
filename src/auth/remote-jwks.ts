import type { JSONWebKeySet } from 'jose';

const MAX_JWKS_BYTES = 256 * 1024;

/**
 * Loads a JWKS from the one configured URL: with a timeout, without following redirects (a token
 * can never steer this server to another host), and refusing oversized or malformed answers.
 */
export function fetchJwks(url: string, timeoutMs = 5_000): () => Promise<JSONWebKeySet> {
  return async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`JWKS endpoint ${url} answered HTTP ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error(`JWKS from ${url} is larger than ${MAX_JWKS_BYTES} bytes`);
    const jwks = JSON.parse(text) as JSONWebKeySet;
    if (!Array.isArray(jwks.keys)) throw new Error(`JWKS from ${url} has no keys array`);
    return jwks;
  };
}
