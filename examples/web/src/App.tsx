import { useCallback, useEffect, useRef, useState } from 'react';
import { Provider } from 'urql';
import { createApi, type Api } from './api.ts';
import { authClient, type Session } from './auth.ts';
import { AuthScreen } from './AuthScreen.tsx';
import { TaskBoard } from './TaskBoard.tsx';
import { createTokenSource } from './tokens.ts';

interface Connection {
  userId: string;
  api: Api;
}

/**
 * A fresh token source, urql client and WebSocket for each signed-in user, disposed on sign-out:
 * nothing cached for one user can reach the next.
 */
function useConnection(session: Session | null | undefined, onSessionExpired: () => void): Connection | null {
  const [connection, setConnection] = useState<Connection | null>(null);
  const expired = useRef(onSessionExpired);
  expired.current = onSessionExpired;
  const userId = session?.user.id;

  useEffect(() => {
    if (!userId) return;
    const tokens = createTokenSource();
    const api = createApi(tokens, () => expired.current());
    setConnection({ userId, api });
    return () => {
      api.dispose();
      setConnection(null);
    };
  }, [userId]);

  return connection?.userId === userId ? connection : null;
}

export function App() {
  const { data: session, isPending } = authClient.useSession();
  const [notice, setNotice] = useState<string>();

  const onSessionExpired = useCallback(() => {
    setNotice('Your session has expired. Sign in again.');
    // Clears the cookie if the server still has the session; either way useSession turns null.
    void authClient.signOut();
  }, []);
  const connection = useConnection(session, onSessionExpired);

  if (isPending && !session) return <Splash />;
  if (!session) return <AuthScreen notice={notice} onSignedIn={() => setNotice(undefined)} />;
  if (!connection) return <Splash />;
  return (
    <Provider value={connection.api.client}>
      <TaskBoard session={session} api={connection.api} onSessionExpired={onSessionExpired} />
    </Provider>
  );
}

function Splash() {
  return (
    <div className="splash" aria-busy="true">
      <span className="logo" aria-hidden="true" />
    </div>
  );
}
