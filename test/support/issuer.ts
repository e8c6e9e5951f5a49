import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface IssuerKey {
  kid: string;
  alg: string;
  privateKey: SigningKey;
  publicJwk: JWK;
}

/** A key pair of a test issuer, its public half in JWK form with `kid` and `alg`. */
export async function issuerKey(alg: 'EdDSA' | 'ES256' | 'RS256' = 'EdDSA'): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export const now = () => Math.floor(Date.now() / 1000);

/** Claims of a valid token for `iss`/`aud`, for a fresh subject; override any of them. */
export function claims(iss: string, aud: string, overrides: JWTPayload = {}): JWTPayload {
  const sub = `user-${randomUUID()}`;
  return { iss, aud, sub, email: `${sub}@example.test`, name: 'Test User', iat: now(), exp: now() + 900, ...overrides };
}

/** Signs `payload` as-is (claims absent from it are absent from the token). */
export function sign(key: IssuerKey, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

/** An unsigned token (`alg` as given, typically some spelling of "none") with an empty signature. */
export function unsigned(payload: JWTPayload, alg: string, kid?: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })}.${part(payload)}.`;
}

/** An HS256 token whose HMAC key is `secret` (for algorithm-confusion attempts: a public key as secret). */
export async function hmac(secret: Uint8Array, payload: JWTPayload, header: Record<string, unknown> = {}, alg = 'HS256'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(secret);
}

export interface JwksServer {
  url: string;
  /** How many requests reached the server, whatever the path. */
  requests(): number;
  /** What the JWKS endpoint serves; `'down'` answers 503 to everything. */
  serve(keys: JWK[] | 'down'): void;
  /** Every answer comes this much later (a slow or distant issuer). */
  delay(ms: number): void;
  close(): Promise<void>;
}

/** A real HTTP server publishing a JWKS at `/jwks`, as a remote Better Auth would. */
export async function startJwksServer(keys: JWK[] | 'down' = []): Promise<JwksServer> {
  let current = keys;
  let count = 0;
  let delayMs = 0;
  const server = http.createServer((req, res) => {
    count++;
    setTimeout(() => answer(req, res), delayMs);
  });
  const answer = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (current === 'down' || req.url !== '/jwks') {
      res.writeHead(current === 'down' ? 503 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: current }));
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    requests: () => count,
    serve: (next) => {
      current = next;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
