import { useEffect, useState } from 'react';
import type { Problem } from './errors.ts';

/** A problem as a banner; with `retryAt`, it counts down ("try again in 7 s") and then goes away. */
export function Notice({ problem, onDismiss }: { problem: Problem; onDismiss: () => void }) {
  const [now, setNow] = useState(() => Date.now());
  const { retryAt } = problem;

  useEffect(() => {
    if (!retryAt) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [retryAt]);

  const secondsLeft = retryAt ? Math.ceil((retryAt - now) / 1000) : 0;
  useEffect(() => {
    if (retryAt && secondsLeft <= 0) onDismiss();
  }, [retryAt, secondsLeft, onDismiss]);

  return (
    <div className="notice" role="alert">
      <span>
        {problem.message}
        {retryAt && secondsLeft > 0 && ` Try again in ${secondsLeft} s.`}
      </span>
      <button type="button" className="ghost" aria-label="Dismiss" onClick={onDismiss}>
        ×
      </button>
    </div>
  );
}
