import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import { prepareStatement } from '../db/connection.ts';
import { databaseError } from '../db/errors.ts';
import type { PoolShare } from '../db/pool-share.ts';
import type { UserRecord, Viewer } from './user.model.ts';

/** Better Auth's "user" table, the columns read here. Better Auth owns it (not an ORM entity). */
export interface UserTables {
  user: { id: string; email: string; name: string };
}

/**
 * Who a verified token's subject is now. Resolves to undefined when the account no longer exists:
 * a token outliving its user (deleted account) then speaks for nobody.
 */
export interface UserDirectory {
  current(viewer: Viewer): Promise<UserRecord | undefined>;
  /** Drops what is cached about a user (called when Better Auth changes or deletes one). */
  forget(id: string): void;
  /** Drops everything cached (change notifications may have been missed). */
  forgetAll(): void;
}

/** How long a looked-up user is kept when no notification evicts it first. */
export const USER_CACHE_TTL_MS = 30_000;

/**
 * Embedded mode: Better Auth's "user" table, in the same database. Lookups are cached briefly so
 * that requests cost no query. Every instance evicts a changed or deleted user when the "user"
 * table's trigger notifies it (users/user.events.ts, within milliseconds of the commit), and
 * everything when the notifications may have been missed; `ttlMs` bounds what is left. A lookup
 * runs within the looked-up user's share of the pool (`share`), as their other statements do.
 */
export function betterAuthUsers(db: Kysely<UserTables>, share: PoolShare, ttlMs = USER_CACHE_TTL_MS): UserDirectory {
  const cache = new LRUCache<string, { user: UserRecord | null }>({ max: 50_000, ttl: ttlMs });
  const loading = new Map<string, Promise<UserRecord | undefined>>();
  // Bumped by every eviction: a lookup that was in flight across one may have read the row before
  // the change, so its answer is returned but not cached.
  let evictions = 0;
  return {
    async current(viewer) {
      const hit = cache.get(viewer.id);
      if (hit) return hit.user ?? undefined;
      let pending = loading.get(viewer.id);
      if (!pending) {
        const started = evictions;
        const query = db.selectFrom('user').select(['id', 'email', 'name']).where('id', '=', viewer.id).compile();
        prepareStatement(query.sql);
        pending = share
          .run(viewer.id, () => db.executeQuery(query))
          .then(({ rows: [row] }) => {
            const user = row ? { ...row, name: row.name || null } : null;
            if (started === evictions) cache.set(viewer.id, { user });
            return user ?? undefined;
          })
          .catch((err: unknown) => {
            throw databaseError(err);
          })
          .finally(() => loading.delete(viewer.id));
        loading.set(viewer.id, pending);
      }
      return pending;
    },
    forget(id) {
      evictions++;
      cache.delete(id);
      loading.delete(id);
    },
    forgetAll() {
      evictions++;
      cache.clear();
      loading.clear();
    },
  };
}

/**
 * Remote-JWKS and shared-secret modes: the issuer owns the users and this server cannot see them;
 * the token's claims are the user. (A deleted user's tokens work until they expire.)
 */
export const tokenClaimsUsers: UserDirectory = {
  current: (viewer) => Promise.resolve(viewer),
  forget: () => {},
  forgetAll: () => {},
};
