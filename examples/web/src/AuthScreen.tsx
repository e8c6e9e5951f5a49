import { useState, type SyntheticEvent } from 'react';
import { authClient } from './auth.ts';
import { Notice } from './Notice.tsx';
import type { Problem } from './errors.ts';

interface AuthError {
  status: number;
  message?: string | undefined;
}

/** Better Auth's answer as a sentence; its 429s say when to try again in `X-Retry-After`. */
function describeAuthError(error: AuthError, retryAfter: string | null, signingUp: boolean): Problem {
  if (error.status === 429) {
    const seconds = Number(retryAfter);
    return { message: 'Too many attempts.', retryAt: Date.now() + (Number.isFinite(seconds) && seconds > 0 ? seconds : 10) * 1000 };
  }
  if (error.status === 0 || error.status >= 500) return { message: 'Cannot reach the server. Try again in a moment.' };
  if (error.status === 401) return { message: 'Wrong email or password.' };
  if (error.message) return { message: error.message };
  return { message: signingUp ? 'Could not create the account.' : 'Could not sign in.' };
}

export function AuthScreen({ notice, onSignedIn }: { notice: string | undefined; onSignedIn: () => void }) {
  const [problem, setProblem] = useState<Problem | undefined>(notice ? { message: notice } : undefined);
  const [busy, setBusy] = useState(false);

  async function submit(event: SyntheticEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const signingUp = submitter?.value === 'sign-up';
    const text = (key: string) => {
      const value = form.get(key);
      return typeof value === 'string' ? value : '';
    };
    const email = text('email').trim();
    const password = text('password');
    const name = text('name').trim();
    if (signingUp && !name) {
      setProblem({ message: 'Enter your name to create an account.' });
      return;
    }
    setBusy(true);
    setProblem(undefined);
    let retryAfter: string | null = null;
    const fetchOptions = {
      onError: (context: { response: Response }) => {
        retryAfter = context.response.headers.get('X-Retry-After');
      },
    };
    try {
      const { error } = signingUp
        ? await authClient.signUp.email({ email, password, name, fetchOptions })
        : await authClient.signIn.email({ email, password, fetchOptions });
      if (error) setProblem(describeAuthError(error, retryAfter, signingUp));
      else onSignedIn();
    } catch {
      setProblem({ message: 'Cannot reach the server. Try again in a moment.' });
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth">
      <div className="card auth-card">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <h1>Tasks</h1>
        </div>
        <p className="muted">Sign in to your list, or create an account in seconds.</p>
        {problem && <Notice problem={problem} onDismiss={() => setProblem(undefined)} />}
        <form onSubmit={(e) => void submit(e)} className="stack">
          <label className="field">
            <span>Email</span>
            <input name="email" type="email" autoComplete="email" required disabled={busy} />
          </label>
          <label className="field">
            <span>Password</span>
            <input name="password" type="password" autoComplete="current-password" required minLength={8} maxLength={128} disabled={busy} />
          </label>
          <div className="field">
            <label htmlFor="name">Name</label>
            <input id="name" name="name" type="text" autoComplete="name" aria-describedby="name-hint" disabled={busy} />
            <small id="name-hint" className="muted">
              Only needed for a new account.
            </small>
          </div>
          <div className="actions">
            <button type="submit" name="action" value="sign-in" className="primary" disabled={busy}>
              Sign in
            </button>
            <button type="submit" name="action" value="sign-up" disabled={busy}>
              Sign up
            </button>
          </div>
        </form>
      </div>
    </main>
  );
}
