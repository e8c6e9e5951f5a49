import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type SyntheticEvent } from 'react';
import { useMutation, useQuery, type CombinedError } from 'urql';
import type { Api } from './api.ts';
import { authClient, type Session } from './auth.ts';
import { describeError, type Problem } from './errors.ts';
import {
  AddTaskDocument,
  RemoveTaskDocument,
  SetTaskCompletedDocument,
  TaskListDocument,
  type TaskFilter,
  type TaskItemFragment,
} from './gql/graphql.ts';
import { useLiveUpdates, type LiveEvent } from './live-updates.ts';
import { Notice } from './Notice.tsx';

const PAGE_SIZE = 50;

/**
 * What this tab has learnt about tasks since it loaded its list: from live updates and from its
 * own mutations' answers. The list is shown as loaded, patched with these; it is fetched again
 * only when live updates cannot resume (CURSOR_EXPIRED) or a change was refused as stale.
 */
interface Changes {
  /** The latest known state of each changed task; null once deleted (ids are never reused). */
  tasks: ReadonlyMap<string, TaskItemFragment | null>;
  /** Tasks created since: shown above the first page until a load includes them. */
  created: ReadonlySet<string>;
}
const NO_CHANGES: Changes = { tasks: new Map(), created: new Set() };

/** `changes` with what is now known of task `id` (null: deleted). A later version wins; a deletion is final. */
function withChange(changes: Changes, id: string, task: TaskItemFragment | null, created = false): Changes {
  const known = changes.tasks.get(id);
  const stale = known === null || (task !== null && known !== undefined && known.version >= task.version);
  const createdNow = created && task !== null && !changes.created.has(id);
  if (stale && !createdNow) return changes;
  return {
    tasks: stale ? changes.tasks : new Map(changes.tasks).set(id, task),
    created: createdNow ? new Set(changes.created).add(id) : changes.created,
  };
}

/** A live event as a change: the task as it is now (it may be later than the event), or null when gone. */
const eventChange = (changes: Changes, event: LiveEvent): Changes =>
  withChange(changes, event.taskId, event.kind === 'DELETED' ? null : event.task, event.kind === 'CREATED');

/** The task as this tab knows it: the loaded one, or a later version of it; null once deleted. */
function latest(task: TaskItemFragment, changes: Changes): TaskItemFragment | null {
  const known = changes.tasks.get(task.id);
  if (known === undefined) return task;
  return known === null ? null : known.version > task.version ? known : task;
}

const matches = (task: TaskItemFragment, filter: TaskFilter | undefined) => filter?.completed == null || task.completed === filter.completed;

interface Board {
  /** Changes when the list must be fetched again (CURSOR_EXPIRED, a conflict). */
  refreshKey: number;
  changes: Changes;
  /** Records what a mutation of this tab returned (the live event follows, and changes nothing more). */
  changed: (id: string, task: TaskItemFragment | null, created?: boolean) => void;
  report: (error: CombinedError) => void;
}
const BoardContext = createContext<Board>({ refreshKey: 0, changes: NO_CHANGES, changed: () => {}, report: () => {} });

type Show = 'all' | 'open' | 'completed';
const FILTERS: Record<Show, TaskFilter | undefined> = { all: undefined, open: { completed: false }, completed: { completed: true } };

export function TaskBoard(props: { session: Session; api: Api; onSessionExpired: () => void }) {
  const { session, api, onSessionExpired } = props;
  const [problem, setProblem] = useState<Problem>();
  const [refreshKey, setRefreshKey] = useState(0);
  const [show, setShow] = useState<Show>('all');
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [changes, setChanges] = useState<Changes>(NO_CHANGES);
  // The first page's count (when it was read), the last page's next cursor, and what each page
  // shows more (new tasks) or less (deleted, or no longer matching the filter) than it loaded.
  const [total, setTotal] = useState<number>();
  const [next, setNext] = useState<string | null>(null);
  const [deltas, setDeltas] = useState<Record<string, number>>({});

  const refresh = useCallback(() => setRefreshKey((k) => k + 1), []);
  const changed = useCallback(
    (id: string, task: TaskItemFragment | null, created?: boolean) => setChanges((c) => withChange(c, id, task, created)),
    [],
  );
  const onEvent = useCallback((event: LiveEvent) => setChanges((c) => eventChange(c, event)), []);
  // Away longer than the server keeps changes: what this tab holds may have missed some. Start over.
  const onExpired = useCallback(() => {
    setChanges(NO_CHANGES);
    refresh();
  }, [refresh]);
  const live = useLiveUpdates(api, onEvent, onExpired);

  const report = useCallback(
    (error: CombinedError) => {
      const described = describeError(error);
      if (described.signedOut) {
        onSessionExpired();
        return;
      }
      if (described.stale) refresh();
      setProblem(described);
    },
    [onSessionExpired, refresh],
  );
  const board = useMemo(() => ({ refreshKey, changes, changed, report }), [refreshKey, changes, changed, report]);
  const dismiss = useCallback(() => setProblem(undefined), []);
  const onDelta = useCallback((key: string, delta: number) => setDeltas((d) => (d[key] === delta ? d : { ...d, [key]: delta })), []);

  const choose = (option: Show) => {
    setShow(option);
    setCursors([null]);
    setTotal(undefined);
    setNext(null);
    setDeltas({});
  };
  // The first page's count, and its cursor: live updates start from there (and keep their own after).
  const { startFrom } = live;
  const onFirstPage = useCallback(
    (count: number, cursor: string | null) => {
      setTotal(count);
      if (cursor) startFrom(cursor);
    },
    [startFrom],
  );
  const shown = total === undefined ? undefined : total + cursors.reduce((sum, after) => sum + (deltas[after ?? 'first'] ?? 0), 0);

  return (
    <BoardContext.Provider value={board}>
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <span className="brand-name">Tasks</span>
          {live.status === 'live' && (
            <span className="live" title="Changes from other tabs and devices appear here at once">
              Live
            </span>
          )}
        </div>
        <div className="account">
          <span className="muted" title={session.user.email}>
            {session.user.name || session.user.email}
          </span>
          <button type="button" onClick={() => void authClient.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main className="board">
        <div className="card">
          <AddTask />
          {problem && <Notice problem={problem} onDismiss={dismiss} />}
          <div className="toolbar">
            <div className="segmented" role="group" aria-label="Show">
              {(['all', 'open', 'completed'] as const).map((option) => (
                <button key={option} type="button" aria-pressed={show === option} onClick={() => choose(option)}>
                  {option === 'all' ? 'All' : option === 'open' ? 'Open' : 'Completed'}
                </button>
              ))}
            </div>
            {shown !== undefined && <span className="muted count">{shown === 1 ? '1 task' : `${shown} tasks`}</span>}
          </div>
          {shown === 0 && <p className="empty">{show === 'all' ? 'No tasks yet. Add your first one above.' : 'Nothing here.'}</p>}
          <ul className="tasks" aria-label="Tasks">
            {cursors.map((after, index) => (
              <TaskPage
                key={after ?? 'first'}
                after={after}
                filter={FILTERS[show]}
                onDelta={onDelta}
                onFirstPage={index === 0 ? onFirstPage : undefined}
                onNext={index === cursors.length - 1 ? setNext : undefined}
              />
            ))}
          </ul>
          {next && (
            <button type="button" className="more" onClick={() => setCursors((c) => [...c, next])}>
              Show more
            </button>
          )}
        </div>
      </main>
    </BoardContext.Provider>
  );
}

function AddTask() {
  const [title, setTitle] = useState('');
  const [{ fetching }, addTask] = useMutation(AddTaskDocument);
  const { report, changed } = useContext(BoardContext);
  // One key per task the person means to add: pressing "Add task" again after an error (the
  // request may have gone through before the connection dropped) cannot add it twice. A new title
  // is a new task, and a new key.
  const idempotencyKey = useRef<string | undefined>(undefined);

  async function submit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!title.trim()) return;
    const key = (idempotencyKey.current ??= crypto.randomUUID());
    const result = await addTask({ input: { title } }, { fetchOptions: { headers: { 'Idempotency-Key': key } } });
    if (result.error) {
      report(result.error);
      return;
    }
    if (result.data) changed(result.data.createTask.id, result.data.createTask, true);
    idempotencyKey.current = undefined;
    setTitle('');
  }

  return (
    <form className="add" onSubmit={(e) => void submit(e)}>
      <input
        aria-label="New task"
        placeholder="What needs doing?"
        value={title}
        maxLength={200}
        onChange={(e) => {
          idempotencyKey.current = undefined;
          setTitle(e.target.value);
        }}
      />
      <button type="submit" className="primary" disabled={fetching || !title.trim()}>
        Add task
      </button>
    </form>
  );
}

/**
 * One page of the list (cursor pagination): "Show more" adds a page after the last one. Shown as
 * loaded, patched with what the tab learnt since (the first page also shows the tasks created since).
 */
function TaskPage(props: {
  after: string | null;
  filter: TaskFilter | undefined;
  onDelta: (key: string, delta: number) => void;
  onFirstPage?: ((total: number, eventsCursor: string | null) => void) | undefined;
  onNext?: ((next: string | null) => void) | undefined;
}) {
  const { after, filter, onDelta, onFirstPage, onNext } = props;
  const { refreshKey, changes, report } = useContext(BoardContext);
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: TaskListDocument,
    variables: { first: PAGE_SIZE, after, filter },
  });

  // Fetched again only when asked (a refused change, an expired cursor). A request while one is
  // in flight is dropped by urql: fetch again once this one is back.
  const pending = useRef(false);
  const inFlight = useRef(fetching);
  inFlight.current = fetching;
  useEffect(() => {
    if (refreshKey === 0) return;
    if (inFlight.current) pending.current = true;
    else reexecute({ requestPolicy: 'network-only' });
  }, [refreshKey, reexecute]);
  useEffect(() => {
    if (fetching || !pending.current) return;
    pending.current = false;
    reexecute({ requestPolicy: 'network-only' });
  }, [fetching, reexecute]);
  useEffect(() => {
    if (error) report(error);
  }, [error, report]);
  const tasks = data?.tasks;
  useEffect(() => {
    if (!tasks) return;
    onFirstPage?.(tasks.totalCount, tasks.eventsCursor);
    onNext?.(tasks.pageInfo.hasNextPage ? tasks.pageInfo.endCursor : null);
  }, [tasks, onFirstPage, onNext]);

  const rows = useMemo(() => {
    if (!tasks) return [];
    const loaded = tasks.nodes.flatMap((node) => {
      const task = latest(node, changes);
      return task && matches(task, filter) ? [task] : [];
    });
    if (!onFirstPage) return loaded;
    const ids = new Set(tasks.nodes.map((node) => node.id));
    const added = [...changes.created]
      .map((id) => changes.tasks.get(id))
      .filter((task): task is TaskItemFragment => !!task && !ids.has(task.id) && matches(task, filter))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return [...added, ...loaded];
  }, [tasks, changes, filter, onFirstPage]);
  const delta = tasks ? rows.length - tasks.nodes.length : 0;
  useEffect(() => onDelta(after ?? 'first', delta), [after, delta, onDelta]);

  return rows.map((task) => <TaskRow key={task.id} task={task} />);
}

function TaskRow({ task }: { task: TaskItemFragment }) {
  const { report, changed } = useContext(BoardContext);
  const [{ fetching: saving, data: saved }, setCompleted] = useMutation(SetTaskCompletedDocument);
  const [{ fetching: deleting }, remove] = useMutation(RemoveTaskDocument);
  // The version this tab last saw: the list's, or this row's own last change if the list has not
  // caught up yet (a second click must not conflict with the first).
  const version = Math.max(task.version, saved?.updateTask.version ?? 0);

  // Shown at once, before the server answers, until the list agrees (or on an error, until the
  // error is shown).
  const [completing, setCompleting] = useState<boolean>();
  const completed = completing ?? task.completed;
  useEffect(() => {
    if (completing === task.completed) setCompleting(undefined);
  }, [completing, task.completed]);
  const toggle = async () => {
    setCompleting(!completed);
    const result = await setCompleted({ id: task.id, completed: !completed, expectedVersion: version });
    if (result.error) {
      setCompleting(undefined);
      report(result.error);
    } else if (result.data) changed(task.id, result.data.updateTask);
  };
  const destroy = async () => {
    const result = await remove({ id: task.id, expectedVersion: version });
    if (result.error) report(result.error);
    else changed(task.id, null);
  };

  return (
    <li className={completed ? 'task done' : 'task'} aria-busy={saving || deleting}>
      <input type="checkbox" aria-label="Done" checked={completed} disabled={saving || deleting} onChange={() => void toggle()} />
      <span className="title">{task.title}</span>
      {task.dueAt && (
        <time className="due muted" dateTime={task.dueAt}>
          {new Date(task.dueAt).toLocaleDateString(undefined, { month: 'short', day: 'numeric' })}
        </time>
      )}
      {task.priority === 'HIGH' && <span className="badge">High</span>}
      <button type="button" className="ghost danger" aria-label="Delete" title="Delete" disabled={deleting} onClick={() => void destroy()}>
        <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
          <path
            d="M3 4h10M6.5 4V2.5h3V4M4.5 4l.7 9.5h5.6l.7-9.5"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.4"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
      </button>
    </li>
  );
}
