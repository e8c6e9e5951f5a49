import type pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { betterAuthUsers, tokenClaimsUsers, type UserDirectory } from '../users/user.directory.ts';
import { createAuth, type Auth } from './auth.ts';
import { fetchJwks } from './remote-jwks.ts';
import {
  cachedKeySet,
  createTokenVerifier,
  JWKS_ALGORITHMS,
  SECRET_ALGORITHMS,
  sharedSecretKey,
  type KeySource,
  type TokenVerifier,
} from './token-verifier.ts';

/** How this deployment knows who is calling. */
export interface Identity {
  /** Better Auth, when it runs in this process (embedded mode); not mounted otherwise. */
  auth: Auth | undefined;
  verifier: TokenVerifier;
  users: UserDirectory;
  /** Loads the verification keys (embedded mode: from the database); rejects when it cannot. */
  loadKeys: () => Promise<void>;
}

/** A remote key set is re-read at least this often, in the background, if its server answers. */
const REMOTE_JWKS_MAX_AGE_MS = 10 * 60_000;

/** The three deployment shapes of the README, one verifier each, chosen by AUTH_MODE. */
export async function createIdentity(config: Config, db: pg.Pool, logger: Logger): Promise<Identity> {
  const { auth: settings } = config;
  const cooldownMs = settings.jwksCooldownSeconds * 1000;
  let auth: Auth | undefined;
  let users: UserDirectory = tokenClaimsUsers;
  let keys: KeySource;

  switch (settings.mode) {
    case 'embedded': {
      const directory = betterAuthUsers(db);
      users = directory;
      const betterAuth = createAuth(config, db, logger, { onUserChanged: (id) => directory.forget(id) });
      auth = betterAuth;
      // In process: Better Auth reads its own keys from the database, no HTTP involved.
      keys = cachedKeySet(() => betterAuth.api.getJwks(), { cooldownMs, logger });
      break;
    }
    case 'remote-jwks':
      keys = cachedKeySet(fetchJwks(settings.jwksUrl!), { cooldownMs, maxAgeMs: REMOTE_JWKS_MAX_AGE_MS, logger });
      break;
    case 'shared-secret':
      keys = await sharedSecretKey(settings.jwtSecret!);
      break;
  }
  const verifier = createTokenVerifier(keys, {
    issuer: settings.issuer,
    audience: settings.audience,
    algorithms: settings.mode === 'shared-secret' ? SECRET_ALGORITHMS : JWKS_ALGORITHMS,
    clockSkewSeconds: settings.clockSkewSeconds,
    maxTokenAgeSeconds: settings.maxTokenAgeSeconds,
  });
  const loadKeys = async () => {
    // Only where the keys come from this deployment's own database, which readiness waits for; a
    // remote issuer being down must not keep this server from starting.
    if (settings.mode === 'embedded' && keys.load && !(await keys.load())) throw new Error('could not load the signing keys');
  };
  return { auth, verifier, users, loadKeys };
}
