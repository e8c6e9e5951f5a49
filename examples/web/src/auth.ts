import { createAuthClient } from 'better-auth/react';
import { jwtClient } from 'better-auth/client/plugins';

/**
 * Better Auth's client. Same origin as the app (the Vite proxy forwards /api/auth), so the session
 * cookie is first-party and survives reloads. With the API on another origin, pass
 * `baseURL: 'https://api.example.com'` and `fetchOptions: { credentials: 'include' }`, and add the
 * app's origin to the server's TRUSTED_ORIGINS.
 */
export const authClient = createAuthClient({ plugins: [jwtClient()] });

export type Session = NonNullable<ReturnType<typeof authClient.useSession>['data']>;
