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
import { useLiveUpdates } from './live-updates.ts';
import { Notice } from './Notice.tsx';

const PAGE_SIZE = 50;
/**
 * urql's document cache refetches a query when a mutation returns a type the query contains. An
 * empty list contains no Task, and deleteTask returns only an id: naming the type here makes
 * every task mutation refresh the list.
 */
const TASKS = { additionalTypenames: ['Task'] };

interface Board {
  /** Changes when the list must be fetched again (a live event, a conflict). */
  refreshKey: number;
  report: (error: CombinedError) => void;
}
const BoardContext = createContext<Board>({ refreshKey: 0, report: () => {} });

type Show = 'all' | 'open' | 'completed';
const FILTERS: Record<Show, TaskFilter | undefined> = { all: undefined, open: { completed: false }, completed: { completed: true } };

export function TaskBoard(props: { session: Session; api: Api; onSessionExpired: () => void }) {
  const { session, api, onSessionExpired } = props;
  const [problem, setProblem] = useState<Problem>();
  const [refreshKey, setRefreshKey] = useState(0);
  const [show, setShow] = useState<Show>('all');
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [summary, setSummary] = useState<{ total: number; next: string | null }>();

  const refresh = useCallback(() => setRefreshKey((k) => k + 1), []);
  const live = useLiveUpdates(api, refresh);

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
  const board = useMemo(() => ({ refreshKey, report }), [refreshKey, report]);
  const dismiss = useCallback(() => setProblem(undefined), []);
  const onSummary = useCallback(
    (total: number, next: string | null) => setSummary((s) => (s?.total === total && s.next === next ? s : { total, next })),
    [],
  );

  const choose = (next: Show) => {
    setShow(next);
    setCursors([null]);
    setSummary(undefined);
  };

  return (
    <BoardContext.Provider value={board}>
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <span className="brand-name">Tasks</span>
          {live === 'live' && (
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
            {summary && <span className="muted count">{summary.total === 1 ? '1 task' : `${summary.total} tasks`}</span>}
          </div>
          {summary?.total === 0 && <p className="empty">{show === 'all' ? 'No tasks yet. Add your first one above.' : 'Nothing here.'}</p>}
          <ul className="tasks" aria-label="Tasks">
            {cursors.map((after, index) => (
              <TaskPage
                key={after ?? 'first'}
                after={after}
                filter={FILTERS[show]}
                onSummary={index === cursors.length - 1 ? onSummary : undefined}
              />
            ))}
          </ul>
          {summary?.next && (
            <button type="button" className="more" onClick={() => setCursors((c) => [...c, summary.next])}>
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
  const { report } = useContext(BoardContext);
  // One key per task the person means to add: pressing "Add task" again after an error (the
  // request may have gone through before the connection dropped) cannot add it twice. A new title
  // is a new task, and a new key.
  const idempotencyKey = useRef<string | undefined>(undefined);

  async function submit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!title.trim()) return;
    const key = (idempotencyKey.current ??= crypto.randomUUID());
    const result = await addTask({ input: { title } }, { ...TASKS, fetchOptions: { headers: { 'Idempotency-Key': key } } });
    if (result.error) {
      report(result.error);
      return;
    }
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

/** One page of the list (cursor pagination): "Show more" adds a page after the last one. */
function TaskPage(props: {
  after: string | null;
  filter: TaskFilter | undefined;
  onSummary?: ((total: number, next: string | null) => void) | undefined;
}) {
  const { after, filter, onSummary } = props;
  const { refreshKey, report } = useContext(BoardContext);
  const [{ data, error, fetching }, reexecute] = useQuery({
    query: TaskListDocument,
    variables: { first: PAGE_SIZE, after, filter },
    context: TASKS,
  });

  // A change announced while the list is being fetched may have been committed after the fetch
  // read it, and urql drops a second fetch of a query in flight: fetch again once this one is back.
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
    if (tasks && onSummary) onSummary(tasks.totalCount, tasks.pageInfo.hasNextPage ? tasks.pageInfo.endCursor : null);
  }, [tasks, onSummary]);

  return tasks?.nodes.map((task) => <TaskRow key={task.id} task={task} />);
}

function TaskRow({ task }: { task: TaskItemFragment }) {
  const { report } = useContext(BoardContext);
  const [{ fetching: saving, data: saved }, setCompleted] = useMutation(SetTaskCompletedDocument);
  const [{ fetching: deleting }, remove] = useMutation(RemoveTaskDocument);
  // The version this tab last saw: the list's, or this row's own last change if the refetched
  // list has not caught up yet (a second click must not conflict with the first).
  const version = Math.max(task.version, saved?.updateTask.version ?? 0);

  // Shown at once, before the server answers, until the refetched list agrees (or on an error,
  // until the error is shown).
  const [completing, setCompleting] = useState<boolean>();
  const completed = completing ?? task.completed;
  useEffect(() => {
    if (completing === task.completed) setCompleting(undefined);
  }, [completing, task.completed]);
  const toggle = async () => {
    setCompleting(!completed);
    const result = await setCompleted({ id: task.id, completed: !completed, expectedVersion: version }, TASKS);
    if (result.error) {
      setCompleting(undefined);
      report(result.error);
    }
  };
  const destroy = async () => {
    const result = await remove({ id: task.id, expectedVersion: version }, TASKS);
    if (result.error) report(result.error);
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
