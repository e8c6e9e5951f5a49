/** A user as the API shows it (Better Auth's "user" row, trimmed). */
export interface UserRecord {
  id: string;
  email: string;
  name: string | null;
}

/** The signed-in caller of a request, taken from a verified token (then the current user record). */
export type Viewer = UserRecord;
