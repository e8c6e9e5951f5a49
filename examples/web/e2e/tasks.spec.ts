import { randomUUID } from 'node:crypto';
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';

/** A new user, signed up through the form: every test has its own account and data. */
async function signUp(page: Page, name = 'Ada'): Promise<{ email: string; password: string }> {
  const email = `${name.toLowerCase()}-${randomUUID()}@example.com`;
  const password = 'correct horse battery';
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Email' }).fill(email);
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('textbox', { name: 'Name' }).fill(name);
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

const task = (page: Page, title: string) => page.getByRole('listitem').filter({ hasText: title });

/** Waits until the API refuses `token` as expired (real time must pass: the server's clock decides). */
async function waitUntilExpired(request: APIRequestContext, token: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const response = await request.post('/graphql', {
          headers: { authorization: `Bearer ${token}` },
          data: { query: '{ tasks(first: 1) { totalCount } }' },
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
