import type { IncomingMessage } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import { TokenRejected, type TokenVerifier } from '../auth/token-verifier.ts';
import type { Viewer } from '../users/user.model.ts';
import type { Logger } from '../logger.ts';
import { TaskRepository } from '../tasks/task.repository.ts';
import { TaskService, type TaskChangeSource } from '../tasks/task.service.ts';
import type { UserDirectory } from '../users/user.directory.ts';
import { invalidToken } from './errors.ts';

/** What every resolver receives; built once per request. */
export interface Context {
  requestId: string;
  logger: Logger;
  /** The signed-in caller, or null for an anonymous request. */
  viewer: Viewer | null;
  tasks: TaskService;
}

export interface ContextDeps {
  orm: MikroORM;
  db: pg.Pool;
  verifier: TokenVerifier;
  users: UserDirectory;
  logger: Logger;
  /** Live task changes, for subscriptions. */
  changes?: TaskChangeSource;
}

/** Longer than any token this API issues; longer ones are refused before any parsing. */
const MAX_TOKEN_LENGTH = 4096;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The viewer from `Authorization: Bearer <jwt>`. No header: anonymous (the @auth directive and
 * services decide what that may do). A header that is not an acceptable bearer token: the whole
 * request is refused with 401.
 */
export async function authenticate(header: string | undefined, verifier: TokenVerifier, users: UserDirectory): Promise<Viewer | null> {
  if (header === undefined || header === '') return null;
  const token = BEARER.exec(header)?.[1];
  if (!token || token.length > MAX_TOKEN_LENGTH) throw invalidToken(false);
  let verified: Viewer;
  try {
    verified = await verifier.verify(token);
  } catch (err) {
    throw invalidToken(err instanceof TokenRejected && err.expired);
  }
  // A valid signature is not enough: the account must still exist (and its name be current).
  const current = await users.current(verified);
  if (!current) throw invalidToken(false);
  return current;
}

export function createContextFactory(deps: ContextDeps) {
  return async (req: IncomingMessage): Promise<Context> => {
    // Set by pino-http (genReqId in app.ts), which also logs the request line under this id.
    const requestId = typeof req.id === 'string' ? req.id : '';
    const viewer = await authenticate(req.headers.authorization, deps.verifier, deps.users);
    return contextFor(deps, viewer, requestId);
  };
}

/**
 * The context of one operation of an already authenticated viewer: an HTTP request, or one
 * subscription of a WebSocket (which authenticated once, at connection_init).
 */
export function contextFor(deps: ContextDeps, viewer: Viewer | null, requestId: string): Context {
  // One EntityManager per request (forked when first needed): its identity map and unit of work
  // are this request's alone, and its owner filter is bound to the viewer.
  const em = () => {
    const fork = deps.orm.em.fork();
    if (viewer) fork.setFilterParams('owner', { id: viewer.id });
    return fork;
  };
  return {
    requestId,
    logger: deps.logger.child({ requestId }),
    viewer,
    tasks: new TaskService(new TaskRepository(deps.db, em), viewer, deps.changes),
  };
}
