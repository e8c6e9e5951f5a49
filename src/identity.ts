import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Config } from './config.ts';
import type { PoolShare } from './db/pool-share.ts';
import type { Logger } from './logger.ts';
import { betterAuthUsers, tokenClaimsUsers, type UserDirectory, type UserTables } from './users/user.directory.ts';
import { createAuth, type Auth } from './auth/auth.ts';
import { fetchJwks } from './auth/remote-jwks.ts';
import {
  cachedKeySet,
  createTokenVerifier,
  JWKS_ALGORITHMS,
  SECRET_ALGORITHMS,
  sharedSecretKey,
  type KeySource,
  type TokenVerifier,
} from './auth/token-verifier.ts';

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

/** A per-mode setting, which config.ts requires for its mode: never undefined here but in a bug. */
function requiredSetting(value: string | undefined, name: string): string {
  if (value === undefined) throw new Error(`${name} is not configured`);
  return value;
}

/**
 * The three deployment shapes of docs/auth.md, one verifier each, chosen by AUTH_MODE. `authPool` is
 * Better Auth's own; `users` (the ORM's Kysely) is where the current user records are read, each
 * lookup within that user's `share` of the pool.
 */
export async function createIdentity(
  config: Config,
  authPool: pg.Pool,
  users: Kysely<UserTables>,
  share: PoolShare,
  logger: Logger,
): Promise<Identity> {
  const { auth: settings } = config;
  const cooldownMs = settings.jwksCooldownSeconds * 1000;
  let auth: Auth | undefined;
  let directory: UserDirectory = tokenClaimsUsers;
  let keys: KeySource;

  switch (settings.mode) {
    case 'embedded': {
      const embeddedUsers = betterAuthUsers(users, share);
      directory = embeddedUsers;
      const betterAuth = createAuth(config, authPool, logger, { onUserChanged: (id) => embeddedUsers.forget(id) });
      auth = betterAuth;
      // In process: Better Auth reads its own keys from the database, no HTTP involved.
      // A token naming a key newer than the set waits for the next load (at most the 1 s cooldown):
      // another instance may have just created or rotated the key.
      keys = cachedKeySet(() => betterAuth.api.getJwks(), { cooldownMs, waitForNextLoad: true, logger });
      break;
    }
    case 'remote-jwks':
      keys = cachedKeySet(fetchJwks(requiredSetting(settings.jwksUrl, 'AUTH_JWKS_URL')), { cooldownMs, maxAgeMs: REMOTE_JWKS_MAX_AGE_MS, logger });
      break;
    case 'shared-secret':
      keys = await sharedSecretKey(requiredSetting(settings.jwtSecret, 'AUTH_JWT_SECRET'));
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
    // remote issuer being down must not keep this server from starting (its keys load on first use).
    const loaded = await keys.warmUp();
    if (settings.mode === 'embedded' && !loaded) throw new Error('could not load the signing keys');
  };
  return { auth, verifier, users: directory, loadKeys };
}
