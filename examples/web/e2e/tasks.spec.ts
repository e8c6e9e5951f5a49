import { randomUUID } from 'node:crypto';
import { expect, test, type APIRequestContext, type Page, type WebSocketRoute } from '@playwright/test';
import { TaskListDocument } from '../src/gql/graphql.ts';

/** A new user, signed up through the form: every test has its own account and data. */
async function signUp(page: Page, name = 'Ada'): Promise<{ email: string; password: string }> {
  const email = `${name.toLowerCase()}-${randomUUID()}@example.com`;
  const password = 'correct horse battery';
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Email' }).fill(email);
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  // Exactly "Name": the hint is its description, not part of its name (screen readers read both apart).
  const nameField = page.getByRole('textbox', { name: 'Name', exact: true });
  await expect(nameField).toHaveAccessibleDescription('Only needed for a new account.');
  await nameField.fill(name);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  return { email, password };
}

async function addTask(page: Page, title: string): Promise<void> {
  await page.getByRole('textbox', { name: 'New task' }).fill(title);
  await page.getByRole('button', { name: 'Add task' }).click();
  await expect(task(page, title)).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'New task' })).toHaveValue('');
}

/** The id codegen gave the app's task list query (the generated document carries only that). */
const taskListId = (TaskListDocument as unknown as { __meta__: { hash: string } }).__meta__.hash;

const task = (page: Page, title: string) => page.getByRole('listitem').filter({ hasText: title });

/**
 * Cuts the page's live updates: its WebSocket to /graphql opens but nobody answers (no events, no
 * reconnects). For tests of the HTTP path alone: an open socket gets a fresh token shortly before
 * the old one expires, which the HTTP requests then use too.
 */
async function withoutLiveUpdates(page: Page): Promise<void> {
  await page.routeWebSocket(/\/graphql$/, () => {});
}

/** Waits until the API refuses `token` as expired (real time must pass: the server's clock decides). */
async function waitUntilExpired(request: APIRequestContext, token: string): Promise<void> {
  await expect
    .poll(
      async () => {
        // By id, as the app sends it: the API runs only the app's own documents.
        const response = await request.post('/graphql', {
          headers: { authorization: `Bearer ${token}` },
          data: { documentId: taskListId, variables: { first: 1 } },
        });
        const body = (await response.json()) as { errors?: Array<{ extensions?: { reason?: string } }> };
        return body.errors?.[0]?.extensions?.reason;
      },
      { timeout: 20_000, intervals: [250] },
    )
    .toBe('TOKEN_EXPIRED');
}

test('a new user signs up, adds, completes and deletes tasks', async ({ page }) => {
  await signUp(page);
  await expect(page.getByText('No tasks yet')).toBeVisible();

  await addTask(page, 'Buy milk');
  await addTask(page, 'Write the report');
  await expect(page.getByRole('listitem')).toHaveCount(2);

  const milk = task(page, 'Buy milk');
  await milk.getByRole('checkbox', { name: 'Done' }).check();
  await expect(milk.getByRole('checkbox', { name: 'Done' })).toBeChecked();
  await expect(task(page, 'Write the report').getByRole('checkbox', { name: 'Done' })).not.toBeChecked();

  await page.getByRole('button', { name: 'Open' }).click();
  await expect(page.getByRole('listitem')).toHaveText([/Write the report/]);
  await page.getByRole('button', { name: 'All' }).click();

  await task(page, 'Write the report').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('listitem')).toHaveText([/Buy milk/]);
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('the app sends its operations by id, never as text, and the API refuses text (trusted documents)', async ({ page, request }) => {
  const sent: Array<{ query?: unknown; documentId?: unknown }> = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname !== '/graphql') return;
    if (r.method() === 'GET') {
      const params = new URL(r.url()).searchParams;
      sent.push({ query: params.get('query') ?? undefined, documentId: params.get('documentId') ?? undefined });
    } else if (r.method() === 'POST') {
      sent.push(r.postDataJSON() as { query?: unknown; documentId?: unknown });
    }
  });
  const subscribes: Array<{ query?: unknown; documentId?: unknown }> = [];
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => {
      const message = JSON.parse(String(payload)) as { type?: string; payload?: { query?: unknown; documentId?: unknown } };
      if (message.type === 'subscribe' && message.payload) subscribes.push(message.payload);
    });
  });
  await signUp(page);
  await addTask(page, 'Sent by id');
  await expect(live(page)).toBeVisible();
  await expect.poll(() => subscribes.length).toBeGreaterThan(0);
  expect(sent.length).toBeGreaterThan(1);
  for (const body of [...sent, ...subscribes]) {
    expect(body.documentId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(body.query ?? '').toBe('');
  }

  const text = await request.post('/graphql', { data: { query: '{ serverVersion }' }, headers: { 'apollo-require-preflight': 'true' } });
  expect(text.status()).toBe(400);
  expect(await text.json()).toMatchObject({ errors: [{ extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' } }] });
});

test('a reload keeps the session and the tasks', async ({ page }) => {
  await signUp(page);
  await addTask(page, 'Survive a reload');
  await task(page, 'Survive a reload').getByRole('checkbox', { name: 'Done' }).check();
  await expect(task(page, 'Survive a reload').getByRole('checkbox', { name: 'Done' })).toBeChecked();

  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(task(page, 'Survive a reload').getByRole('checkbox', { name: 'Done' })).toBeChecked();
});

test('signing out ends the session; signing in brings the tasks back', async ({ page }) => {
  const { email, password } = await signUp(page);
  await addTask(page, 'Still here after signing in');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('listitem')).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();

  await page.getByRole('textbox', { name: 'Email' }).fill(email);
  await page.getByRole('textbox', { name: 'Password' }).fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Wrong email or password');

  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(task(page, 'Still here after signing in')).toBeVisible();
});

test("a second user sees none of the first user's tasks", async ({ page, browser }) => {
  await signUp(page, 'Ada');
  await addTask(page, "Ada's secret plan");

  const other = await browser.newContext();
  try {
    const otherPage = await other.newPage();
    await signUp(otherPage, 'Grace');
    await expect(otherPage.getByText('No tasks yet')).toBeVisible();
    await expect(otherPage.getByRole('listitem')).toHaveCount(0);
    await addTask(otherPage, "Grace's own task");
    await expect(otherPage.getByRole('listitem')).toHaveCount(1);
  } finally {
    await other.close();
  }
  await page.reload();
  await expect(page.getByRole('listitem')).toHaveText([/Ada's secret plan/]);
});

test('an expired token is replaced before it is used', async ({ page, request }) => {
  await withoutLiveUpdates(page);
  const tokens: string[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === '/api/auth/token' && response.ok()) {
      void response.json().then((body: { token: string }) => tokens.push(body.token));
    }
  });
  await signUp(page);
  await addTask(page, 'Before expiry');
  await expect.poll(() => tokens.length).toBeGreaterThan(0);
  const first = tokens[tokens.length - 1]!;

  await waitUntilExpired(request, first);
  const refreshed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/token');
  await addTask(page, 'After expiry');
  expect((await refreshed).ok()).toBe(true);
  await expect.poll(() => tokens.at(-1)).not.toBe(first);
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('a token the server refuses as expired is refreshed and the request retried', async ({ page, request }) => {
  // The browser's clock stands still, so the app believes its token is fresh for ever; only the
  // server's answer (401, TOKEN_EXPIRED) can tell it otherwise.
  await page.clock.setFixedTime(new Date());
  await withoutLiveUpdates(page);
  const tokens: string[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === '/api/auth/token' && response.ok()) {
      void response.json().then((body: { token: string }) => tokens.push(body.token));
    }
  });
  await signUp(page);
  await addTask(page, 'Before expiry');
  await expect.poll(() => tokens.length).toBeGreaterThan(0);
  await waitUntilExpired(request, tokens[tokens.length - 1]!);

  const refused = page.waitForResponse((r) => new URL(r.url()).pathname === '/graphql' && r.status() === 401);
  const refreshed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/token');
  await addTask(page, 'After expiry');
  await refused;
  expect((await refreshed).ok()).toBe(true);
  await expect(page.getByRole('listitem')).toHaveCount(2);
  await expect(page.getByRole('alert')).toHaveCount(0);
});

/** The "Live" badge: the page's subscription is acknowledged. */
const live = (page: Page) => page.getByText('Live', { exact: true });

/** graphql-ws `next` messages (subscription events) a page receives, counted from before it opens a socket. */
function countEvents(page: Page): { readonly count: number } {
  const counter = { count: 0 };
  page.on('websocket', (socket) => {
    socket.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string' && (JSON.parse(payload) as { type?: string }).type === 'next') counter.count += 1;
    });
  });
  return counter;
}

// How fast a change reaches another tab is measured by bench/subscriptions.ts (p99 under 100 ms), not
// here: a bound of a second failed on a busy machine (two CI runs at once, load average 14). These
// tests check that it arrives live: over the tab's socket, with no list fetched to get it.
test("changes in one tab appear live in the user's other tab; another user gets none of them", async ({ page, context, browser }) => {
  await signUp(page, 'Ada');
  const second = await context.newPage();
  await second.goto('/');
  await expect(second.getByRole('button', { name: 'Sign out' })).toBeVisible();

  const other = await browser.newContext();
  try {
    const grace = await other.newPage();
    const graceEvents = countEvents(grace);
    await signUp(grace, 'Grace');
    await Promise.all([expect(live(page)).toBeVisible(), expect(live(second)).toBeVisible(), expect(live(grace)).toBeVisible()]);
    // From here on each change reaches the other tab as an event: neither tab fetches its list again.
    const lists = [countListRequests(page), countListRequests(second)];

    await addTask(page, 'Seen in both tabs');
    await expect(task(second, 'Seen in both tabs')).toBeVisible();

    await task(second, 'Seen in both tabs').getByRole('checkbox', { name: 'Done' }).check();
    await expect(task(second, 'Seen in both tabs').getByRole('checkbox', { name: 'Done' })).toBeChecked();
    await expect(task(page, 'Seen in both tabs').getByRole('checkbox', { name: 'Done' })).toBeChecked();

    await addTask(second, 'Deleted in the first tab');
    await expect(task(page, 'Deleted in the first tab')).toBeVisible();
    await task(page, 'Deleted in the first tab').getByRole('button', { name: 'Delete' }).click();
    await expect(task(page, 'Deleted in the first tab')).toHaveCount(0);
    await expect(task(second, 'Deleted in the first tab')).toHaveCount(0);
    await expect(second.getByRole('listitem')).toHaveText([/Seen in both tabs/]);
    expect(lists.map((l) => l.count)).toEqual([0, 0]);

    // Grace's subscription works (her own change reaches her), yet none of Ada's five events did.
    expect(graceEvents.count).toBe(0);
    await expect(grace.getByRole('listitem')).toHaveCount(0);
    await addTask(grace, "Grace's own task");
    await expect.poll(() => graceEvents.count).toBe(1);
    await expect(grace.getByRole('listitem')).toHaveText([/Grace's own task/]);
    await expect(page.getByRole('listitem')).toHaveText([/Seen in both tabs/]);
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(second.getByRole('alert')).toHaveCount(0);
  } finally {
    await other.close();
  }
});

test('live updates carry on once the token the tabs started with has expired', async ({ page, context, request }) => {
  const tokens: string[] = [];
  context.on('response', (response) => {
    if (new URL(response.url()).pathname === '/api/auth/token' && response.ok()) {
      void response.json().then((body: { token: string }) => tokens.push(body.token));
    }
  });
  await signUp(page);
  const second = await context.newPage();
  await second.goto('/');
  await Promise.all([expect(live(page)).toBeVisible(), expect(live(second)).toBeVisible()]);
  await expect.poll(() => tokens.length).toBeGreaterThan(0);

  // Each socket changed tokens on its own before this one expired (the server would have closed it).
  await waitUntilExpired(request, tokens[0]!);
  const secondLists = countListRequests(second);
  await addTask(page, 'After the first token');
  await expect(task(second, 'After the first token')).toBeVisible();
  expect(secondLists.count).toBe(0);
  await expect(second.getByRole('alert')).toHaveCount(0);
});

test('after the server closes the socket with 1013 (try again later), the tab reconnects and resumes with what it missed', async ({
  page,
  context,
}) => {
  await signUp(page);
  const second = await context.newPage();
  // The second tab's first socket goes through a relay that can lose events and close it as the
  // server does when it cannot hear the database; the sockets after it go straight through.
  let first: { page: WebSocketRoute; server: WebSocketRoute; dropEvents: boolean } | undefined;
  let sockets = 0;
  await second.routeWebSocket(/\/graphql$/, (socket) => {
    const server = socket.connectToServer();
    if (++sockets > 1) return;
    const relay: NonNullable<typeof first> = { page: socket, server, dropEvents: false };
    first = relay;
    socket.onMessage((message) => server.send(message));
    server.onMessage((message) => {
      if (relay.dropEvents && typeof message === 'string' && (JSON.parse(message) as { type?: string }).type === 'next') return;
      socket.send(message);
    });
  });
  await second.goto('/');
  await Promise.all([expect(live(page)).toBeVisible(), expect(live(second)).toBeVisible()]);
  expect(first).toBeDefined();

  first!.dropEvents = true;
  await addTask(page, 'Added while the other tab was deaf');
  await first!.server.close();
  await first!.page.close({ code: 1013, reason: 'try again later' });
  // graphql-ws waits half a second or more before reconnecting; meanwhile the tab says it is not live.
  await expect(live(second)).toBeHidden();
  await expect(task(second, 'Added while the other tab was deaf')).toBeVisible();
  await expect(live(second)).toBeVisible();
  await expect(second.getByRole('alert')).toHaveCount(0);
});

test('a subscription that ends with SERVICE_UNAVAILABLE is started again from where the tab was', async ({ page, context }) => {
  await signUp(page);
  const second = await context.newPage();
  // The second tab's first socket goes through a relay that can end its subscription the way the
  // server does when it fell behind or stopped hearing the database (nothing is forwarded after).
  let fail: (() => void) | undefined;
  let sockets = 0;
  await second.routeWebSocket(/\/graphql$/, (socket) => {
    const server = socket.connectToServer();
    if (++sockets > 1) return;
    let subscriptionId: string | undefined;
    let failed = false;
    socket.onMessage((message) => {
      const parsed = typeof message === 'string' ? (JSON.parse(message) as { type?: string; id?: string }) : {};
      if (parsed.type === 'subscribe') subscriptionId = parsed.id;
      if (!failed) server.send(message);
    });
    server.onMessage((message) => {
      if (!failed) socket.send(message);
    });
    fail = () => {
      failed = true;
      const extensions = { code: 'SERVICE_UNAVAILABLE', retryAfter: 1 };
      socket.send(
        JSON.stringify({
          id: subscriptionId,
          type: 'error',
          payload: [{ message: 'Live updates were interrupted; subscribe again with the cursor of the last event you received.', extensions }],
        }),
      );
    };
  });
  await second.goto('/');
  await Promise.all([expect(live(page)).toBeVisible(), expect(live(second)).toBeVisible()]);
  expect(fail).toBeDefined();

  fail!();
  await addTask(page, 'Added while the subscription was down');
  await expect(task(second, 'Added while the subscription was down')).toBeVisible();
  await expect(live(second)).toBeVisible();
  // Live again: the new subscription delivers.
  const secondLists = countListRequests(second);
  await addTask(page, 'Added after it came back');
  await expect(task(second, 'Added after it came back')).toBeVisible();
  expect(secondLists.count).toBe(0);
  await expect(second.getByRole('alert')).toHaveCount(0);
});

/** The page's requests for its task list (by the list query's id), counted from now. */
function countListRequests(page: Page): { readonly count: number } {
  const counter = { count: 0 };
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname !== '/graphql') return;
    const id = r.method() === 'GET' ? url.searchParams.get('documentId') : (r.postDataJSON() as { documentId?: string } | null)?.documentId;
    if (id === taskListId) counter.count += 1;
  });
  return counter;
}

interface Relayed {
  /** The `after` of every subscribe the page sent, in order. */
  subscribed: unknown[];
  /** The cursor of the last event the page received. */
  lastCursor: string | undefined;
  /** Closes the page's open sockets (1013) and refuses new ones until `restore()`. */
  cut(): Promise<void>;
  restore(): void;
  sockets: number;
}

/** Routes the page's sockets through a relay that records subscriptions and events and can take the API away. */
async function relay(page: Page): Promise<Relayed> {
  const open: Array<{ page: WebSocketRoute; server: WebSocketRoute }> = [];
  let down = false;
  const state: Relayed = {
    subscribed: [],
    lastCursor: undefined,
    sockets: 0,
    async cut() {
      down = true;
      for (const socket of open.splice(0)) {
        await socket.server.close();
        await socket.page.close({ code: 1013, reason: 'try again later' });
      }
    },
    restore() {
      down = false;
    },
  };
  await page.routeWebSocket(/\/graphql$/, (socket) => {
    if (down) {
      void socket.close({ code: 1013, reason: 'try again later' });
      return;
    }
    state.sockets += 1;
    const server = socket.connectToServer();
    open.push({ page: socket, server });
    socket.onMessage((message) => {
      const parsed = JSON.parse(String(message)) as { type?: string; payload?: { variables?: { after?: unknown } } };
      if (parsed.type === 'subscribe') state.subscribed.push(parsed.payload?.variables?.after);
      server.send(message);
    });
    server.onMessage((message) => {
      const parsed = JSON.parse(String(message)) as { type?: string; payload?: { data?: { taskEvents?: { cursor?: string } } } };
      const cursor = parsed.type === 'next' ? parsed.payload?.data?.taskEvents?.cursor : undefined;
      if (cursor) state.lastCursor = cursor;
      socket.send(message);
    });
  });
  return state;
}

test('a tab whose connection drops for a few seconds resumes from its last event: exactly what changed meanwhile, and no list fetched again', async ({
  page,
  context,
}) => {
  const away = await relay(page);
  await signUp(page);
  for (const title of ['Untouched', 'Completed while away', 'Deleted while away']) await addTask(page, title);
  const second = await context.newPage();
  await second.goto('/');
  await Promise.all([expect(live(page)).toBeVisible(), expect(live(second)).toBeVisible()]);
  // The first tab has heard an event: it holds that event's cursor.
  await addTask(second, 'Before the cut');
  await expect(task(page, 'Before the cut')).toBeVisible();
  await expect.poll(() => away.lastCursor).toBeDefined();
  const cursorBeforeCut = away.lastCursor;
  const listRequests = countListRequests(page);

  // The API is gone for the first tab (its socket closed, reconnects refused) while the second changes things.
  await away.cut();
  await expect(live(page)).toBeHidden();
  await addTask(second, 'Added while away');
  await task(second, 'Completed while away').getByRole('checkbox', { name: 'Done' }).check();
  await expect(task(second, 'Completed while away').getByRole('checkbox', { name: 'Done' })).toBeChecked();
  await task(second, 'Deleted while away').getByRole('button', { name: 'Delete' }).click();
  await expect(task(second, 'Deleted while away')).toHaveCount(0);
  await addTask(second, 'Created and deleted while away');
  await task(second, 'Created and deleted while away').getByRole('button', { name: 'Delete' }).click();
  await expect(task(second, 'Created and deleted while away')).toHaveCount(0);
  // Nothing of it reached the first tab.
  await expect(task(page, 'Added while away')).toHaveCount(0);
  await expect(task(page, 'Deleted while away')).toHaveCount(1);

  away.restore();
  await expect(live(page)).toBeVisible();
  // Resumed from the cursor of its last event, on a new socket...
  expect(away.sockets).toBeGreaterThan(1);
  expect(away.subscribed.at(-1)).toBe(cursorBeforeCut);
  // ...it shows exactly what the second tab shows, and fetched no list to get there.
  const titles = ['Added while away', 'Before the cut', 'Completed while away', 'Untouched'];
  await expect(page.getByRole('listitem')).toHaveText(titles.map((t) => new RegExp(t)));
  await expect(second.getByRole('listitem')).toHaveText(titles.map((t) => new RegExp(t)));
  await expect(task(page, 'Completed while away').getByRole('checkbox', { name: 'Done' })).toBeChecked();
  await expect(page.getByText('4 tasks')).toBeVisible();
  expect(listRequests.count).toBe(0);

  // And it is live from there on.
  await addTask(second, 'After the return');
  await expect(task(page, 'After the return')).toBeVisible();
  expect(listRequests.count).toBe(0);
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('a cursor the server no longer keeps (CURSOR_EXPIRED) makes the tab fetch its list again and go on from the new list', async ({
  page,
  context,
}) => {
  await signUp(page);
  const second = await context.newPage();
  // The second tab's first subscription is refused as the server refuses a cursor older than
  // TASK_EVENTS_RETENTION_SECONDS; everything else goes straight through.
  let refused = false;
  const subscribed: unknown[] = [];
  await second.routeWebSocket(/\/graphql$/, (socket) => {
    const server = socket.connectToServer();
    socket.onMessage((message) => {
      const parsed = JSON.parse(String(message)) as { type?: string; id?: string; payload?: { variables?: { after?: unknown } } };
      if (parsed.type === 'subscribe') subscribed.push(parsed.payload?.variables?.after);
      if (parsed.type === 'subscribe' && !refused) {
        refused = true;
        const error = {
          message: 'This cursor is older than the changes kept: refetch, then subscribe after the eventsCursor of the new list.',
          extensions: { code: 'CURSOR_EXPIRED' },
        };
        socket.send(JSON.stringify({ id: parsed.id, type: 'next', payload: { errors: [error] } }));
        socket.send(JSON.stringify({ id: parsed.id, type: 'complete' }));
        return;
      }
      server.send(message);
    });
  });
  const listRequests = countListRequests(second);
  await addTask(page, 'Made before the second tab opened');
  await second.goto('/');
  await expect(task(second, 'Made before the second tab opened')).toBeVisible();
  // The first load, then one more after the refusal; the new list's cursor starts the subscription.
  await expect.poll(() => listRequests.count).toBe(2);
  await expect.poll(() => subscribed.length).toBe(2);
  await expect(live(second)).toBeVisible();
  await addTask(page, 'Made after the refusal');
  await expect(task(second, 'Made after the refusal')).toBeVisible();
  expect(listRequests.count).toBe(2);
  await expect(second.getByRole('alert')).toHaveCount(0);
});

test('signing out in one tab returns the other tab to the sign-in form', async ({ page, context }) => {
  await signUp(page);
  const second = await context.newPage();
  await second.goto('/');
  await expect(live(second)).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(second.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(second.getByRole('listitem')).toHaveCount(0);
});

test('signing out everywhere from another device ends the session here too, with a message', async ({ page, browser, baseURL }) => {
  const { email, password } = await signUp(page);
  await addTask(page, 'Private');
  await expect(live(page)).toBeVisible();

  // Another browser (its own session) signs out everywhere. The server closes this page's socket
  // with 4403 "signed out" within a second; the app asks for a new token on reconnecting, and
  // Better Auth refuses it: the session is gone. (The page's next token change, at most 4 s away
  // with these 5 s tokens, would find out too.)
  const other = await browser.newContext();
  try {
    const device = await other.newPage();
    await device.goto('/');
    await device.getByRole('textbox', { name: 'Email' }).fill(email);
    await device.getByRole('textbox', { name: 'Password' }).fill(password);
    await device.getByRole('button', { name: 'Sign in' }).click();
    await expect(task(device, 'Private')).toBeVisible();
    const revoked = await device.request.post('/api/auth/revoke-sessions', { headers: { origin: baseURL! }, data: {} });
    expect(revoked.ok()).toBe(true);
  } finally {
    await other.close();
  }
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('Your session has expired. Sign in again.');
  await expect(page.getByRole('listitem')).toHaveCount(0);
});

test('a change made from a stale tab is refused with a message, and the tab then shows the current list', async ({ page, context }) => {
  await signUp(page);
  await addTask(page, 'Water the plants');

  // The second tab's live updates are cut, as on a flaky connection: it keeps showing what it loaded.
  const stale = await context.newPage();
  await withoutLiveUpdates(stale);
  await stale.goto('/');
  const plants = task(stale, 'Water the plants');
  await expect(plants.getByRole('checkbox', { name: 'Done' })).not.toBeChecked();

  await task(page, 'Water the plants').getByRole('checkbox', { name: 'Done' }).check();
  await expect(task(page, 'Water the plants').getByRole('checkbox', { name: 'Done' })).toBeChecked();
  await expect(plants.getByRole('checkbox', { name: 'Done' })).not.toBeChecked();

  // Deleting what the stale tab shows (version 1) is refused: the task was completed since.
  await plants.getByRole('button', { name: 'Delete' }).click();
  await expect(stale.getByRole('alert')).toContainText('This task was changed somewhere else');
  await expect(plants.getByRole('checkbox', { name: 'Done' })).toBeChecked();
  await expect(task(page, 'Water the plants')).toBeVisible();

  // Deleted in the first tab; the stale tab still shows it and tries to reopen it.
  await task(page, 'Water the plants').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('listitem')).toHaveCount(0);
  // A click, not uncheck(): the box flips back as soon as the refusal arrives.
  await plants.getByRole('checkbox', { name: 'Done' }).click();
  await expect(stale.getByRole('alert')).toContainText('This task no longer exists');
  await expect(stale.getByRole('listitem')).toHaveCount(0);
  await expect(stale.getByText('No tasks yet')).toBeVisible();
});
