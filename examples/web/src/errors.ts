import type { CombinedError } from 'urql';

/** What the person sees: a sentence, and for limits, when they may try again. */
export interface Problem {
  message: string;
  /** Epoch milliseconds after which trying again makes sense (rate limits, overload). */
  retryAt?: number;
  /** The session is gone: the app returns to the sign-in form. */
  signedOut?: boolean;
  /** What the person saw is stale (a conflict, a task deleted elsewhere): refetch the list. */
  stale?: boolean;
}

/** Seconds from `Retry-After` (seconds or an HTTP date), an error extension, or a default. */
function retryAfterSeconds(headers: Headers | undefined, extension: unknown, fallback: number): number {
  if (typeof extension === 'number' && extension > 0) return Math.ceil(extension);
  const header = headers?.get('Retry-After') ?? headers?.get('X-Retry-After');
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(1, Math.ceil((date - Date.now()) / 1000));
  }
  return fallback;
}

function tryAgain(seconds: number, message: string): Problem {
  return { message, retryAt: Date.now() + seconds * 1000 };
}

/** Turns an urql error into what a person needs to know, using the API's `extensions.code`. */
export function describeError(error: CombinedError): Problem {
  const response = error.response as Response | undefined;
  const headers = response?.headers;
  const first = error.graphQLErrors[0];
  const code = first?.extensions.code ?? (response?.status === 429 ? 'RATE_LIMITED' : response?.status === 503 ? 'SERVICE_UNAVAILABLE' : undefined);

  switch (code) {
    case 'RATE_LIMITED':
      return tryAgain(retryAfterSeconds(headers, first?.extensions.retryAfter, 10), 'Too many requests.');
    case 'SERVICE_UNAVAILABLE':
      return tryAgain(retryAfterSeconds(headers, first?.extensions.retryAfter, 5), 'The service is briefly unavailable.');
    case 'CONFLICT':
      return { message: 'This task was changed somewhere else. The list now shows its latest version; try again if you still want to.', stale: true };
    case 'NOT_FOUND':
    case 'FORBIDDEN':
      return { message: 'This task no longer exists. It may have been deleted somewhere else.', stale: true };
    case 'UNAUTHENTICATED':
      return { message: 'Your session has expired. Sign in again.', signedOut: true };
    case 'BAD_USER_INPUT':
      return { message: first?.message ?? 'Please check what you entered.' };
  }
  if (error.networkError) return { message: 'Cannot reach the server. Check your connection and try again.' };
  const requestId = first?.extensions.requestId;
  return { message: `Something went wrong on our side${typeof requestId === 'string' ? ` (reference ${requestId})` : ''}. Please try again.` };
}
