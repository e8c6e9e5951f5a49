import type pg from 'pg';
import type { Viewer } from '../auth/viewer.ts';
import { unauthenticated } from '../graphql/errors.ts';
import type { UserRecord } from './user.model.ts';

/**
 * Users as Better Auth stores them. The signed-in user is read once per request (a task's `owner`
 * is always the viewer), so a page of tasks costs one user query, not one per task.
 */
export class UserService {
  readonly #db: pg.Pool;
  readonly #viewer: Viewer | null;
  #me: Promise<UserRecord> | undefined;

  constructor(db: pg.Pool, viewer: Viewer | null) {
    this.#db = db;
    this.#viewer = viewer;
  }

  me(): Promise<UserRecord> {
    const viewer = this.#viewer;
    if (!viewer) return Promise.reject(unauthenticated());
    return (this.#me ??= this.#db
      .query<UserRecord>({ name: 'user_by_id', text: 'select id, email, name from "user" where id = $1', values: [viewer.id] })
      .then(({ rows: [user] }) => {
        // The token outlived its user (deleted account): it speaks for nobody.
        if (!user) throw unauthenticated('The account of this token no longer exists.');
        return { ...user, name: user.name || null };
      }));
  }
}
