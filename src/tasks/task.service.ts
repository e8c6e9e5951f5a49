import { BadInput, Conflict, Forbidden, NotFound, ServiceUnavailable, Unauthenticated } from '../errors.ts';
import { decodeCursor, encodeCursor } from './task.cursor.ts';
import {
  priorityRank,
  type NewTaskInput,
  type TaskFilterInput,
  type TaskFilterValues,
  type TaskListInput,
  type TaskPage,
  type TaskRecord,
  type TaskUpdateInput,
  type TaskView,
} from './task.model.ts';
import type { TaskEventRecord, TaskEventStream } from './task.feed.ts';
import type { TaskChanges, TaskRepository } from './task.repository.ts';
import * as valid from './task.validation.ts';
import type { UserRecord, Viewer } from '../users/user.model.ts';

/**
 * The rules of the task domain: who may see and change which task, and what input is valid.
 * Every method works for the viewer only; another user's task is a FORBIDDEN error, a missing
 * one NOT_FOUND, and a refused call changes nothing.
 */
export class TaskService {
  readonly #repo: TaskRepository;
  readonly #viewer: Viewer | null;
  readonly #changes: TaskChangeSource | undefined;

  /** `changes`: where live task changes come from (undefined where subscriptions are not served). */
  constructor(repo: TaskRepository, viewer: Viewer | null, changes?: TaskChangeSource) {
    this.#repo = repo;
    this.#viewer = viewer;
    this.#changes = changes;
  }

  #ownerId(): string {
    // The @auth directive stops anonymous callers first; this keeps the service safe on its own.
    if (!this.#viewer) throw new Unauthenticated();
    return this.#viewer.id;
  }

  /**
   * The error for a task the viewer could not read or change: nobody's, someone else's, or theirs
   * at another version than expected.
   */
  async #missing(ownerId: string, id: string): Promise<never> {
    const presence = await this.#repo.presence(ownerId, id);
    if (presence.kind === 'none') throw new NotFound();
    if (presence.kind === 'foreign') throw new Forbidden();
    throw new Conflict('The task has changed since you read it: read it again, then retry with its current version.', {
      currentVersion: presence.version,
    });
  }

  /**
   * The task as clients see it, with its owner: the user of its owner column. Every query carries
   * the owner in its WHERE, so that is always the viewer, whose current record it gets; a task of
   * anyone else reaching here would be a bug, and fails the request (logged, masked) rather than
   * show another account. The record is completed in place, not copied (each read's records are
   * its own): pass a copy of a record that is shared.
   */
  present(task: TaskRecord): TaskView {
    const viewer = this.#viewer;
    if (!viewer) throw new Unauthenticated();
    if (task.ownerId !== viewer.id) throw new Error(`task ${task.id} of another owner reached its presentation`);
    const view = task as TaskRecord & { owner?: UserRecord };
    view.owner = viewer;
    return view as TaskView;
  }

  async get(rawId: string): Promise<TaskView> {
    const ownerId = this.#ownerId();
    const id = valid.taskId('id', rawId);
    const task = await this.#repo.findOwned(ownerId, id);
    return task ? this.present(task) : this.#missing(ownerId, id);
  }

  /**
   * A page of the viewer's tasks; with `eventsCursor`, also where their change feed stood just
   * before the page was read (taken first: a change committed in between is in the feed after the
   * cursor, and maybe in the page too, never in neither).
   */
  async list(args: TaskListInput, options: { eventsCursor?: boolean } = {}): Promise<TaskPage> {
    const ownerId = this.#ownerId();
    const first = valid.pageSize('first', args.first ?? 20);
    const order = args.orderBy ?? 'CREATED_AT_DESC';
    const position = args.after == null ? undefined : decodeCursor(args.after, order);
    if (args.after != null && !position) {
      throw new BadInput('after', `is not a cursor of this list in ${order} order`);
    }
    const filter = filterValues(args.filter);

    const eventsCursor = options.eventsCursor && this.#changes ? await this.#changes.present(ownerId) : null;
    const rows = await this.#repo.page(ownerId, filter, order, first + 1, position);
    let count: Promise<number> | undefined;
    const nodes = rows.slice(0, first).map((row) => this.present(row));
    const [head, last] = [nodes[0], nodes.at(-1)];
    return {
      order,
      nodes,
      pageInfo: {
        hasNextPage: rows.length > first,
        hasPreviousPage: position !== undefined,
        startCursor: head ? encodeCursor(order, head) : null,
        endCursor: last ? encodeCursor(order, last) : null,
      },
      // Memoized: selected twice (aliases, fragments) it is still counted once per page.
      totalCount: () => (count ??= this.#repo.count(ownerId, filter)),
      eventsCursor,
    };
  }

  async create(input: NewTaskInput): Promise<TaskView> {
    const ownerId = this.#ownerId();
    const created = await this.#repo.create(ownerId, {
      title: valid.title('input.title', input.title),
      description: input.description == null ? null : valid.description('input.description', input.description),
      priority: priorityRank(valid.notNull('input.priority', input.priority ?? 'MEDIUM')),
      dueAt: input.dueAt == null ? null : valid.dateTime('input.dueAt', input.dueAt),
    });
    // The account was deleted after this request's token was checked.
    if (!created) throw new Unauthenticated('The account of this token no longer exists.');
    return this.present(created);
  }

  async update(rawId: string, input: TaskUpdateInput): Promise<TaskView> {
    const ownerId = this.#ownerId();
    const id = valid.taskId('id', rawId);
    // Everything is validated before anything is written.
    const changes: TaskChanges = {};
    if (input.title !== undefined) changes.title = valid.title('input.title', valid.notNull('input.title', input.title));
    if (input.description !== undefined) {
      changes.description = input.description === null ? null : valid.description('input.description', input.description);
    }
    if (input.completed !== undefined) changes.completed = valid.notNull('input.completed', input.completed);
    if (input.priority !== undefined) changes.priority = priorityRank(valid.notNull('input.priority', input.priority));
    if (input.dueAt !== undefined) changes.dueAt = input.dueAt === null ? null : valid.dateTime('input.dueAt', input.dueAt);
    const expectedVersion = input.expectedVersion == null ? undefined : valid.version('input.expectedVersion', input.expectedVersion);
    const updated = await this.#repo.update(ownerId, id, changes, expectedVersion);
    return updated ? this.present(updated) : this.#missing(ownerId, id);
  }

  async delete(rawId: string, rawExpectedVersion?: number | null): Promise<string> {
    const ownerId = this.#ownerId();
    const id = valid.taskId('id', rawId);
    const expectedVersion = rawExpectedVersion == null ? undefined : valid.version('expectedVersion', rawExpectedVersion);
    return (await this.#repo.delete(ownerId, id, expectedVersion)) ? id : this.#missing(ownerId, id);
  }

  /**
   * The viewer's task changes as they are committed, from any instance and any writer: after the
   * event whose cursor is `after`, or from now on (see TaskFeed.subscribe for the refusals).
   */
  async events(after?: string | null): Promise<TaskEventStream> {
    const ownerId = this.#ownerId();
    if (!this.#changes) throw new ServiceUnavailable('Live updates are not available on this server.');
    return this.#changes.subscribe(ownerId, after ?? undefined);
  }
}

/** Where TaskService.events() gets its changes (TaskFeed). */
export interface TaskChangeSource {
  subscribe(ownerId: string, after?: string): Promise<TaskEventStream>;
  /** A cursor of the owner's feed as it stands now: `subscribe(ownerId, it)` gets every change committed after this call. */
  present(ownerId: string): Promise<string>;
}

export type { TaskEventRecord };

function filterValues(filter: TaskFilterInput | null | undefined): TaskFilterValues {
  if (!filter) return {};
  return {
    completed: filter.completed ?? undefined,
    priority: filter.priority == null ? undefined : priorityRank(filter.priority),
    search: filter.search == null ? undefined : valid.search('filter.search', filter.search),
    dueBefore: filter.dueBefore == null ? undefined : valid.dateTime('filter.dueBefore', filter.dueBefore),
    dueAfter: filter.dueAfter == null ? undefined : valid.dateTime('filter.dueAfter', filter.dueAfter),
  };
}
