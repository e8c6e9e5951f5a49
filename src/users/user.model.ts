/** A user as the API shows it (Better Auth's "user" row, trimmed). */
export interface UserRecord {
  id: string;
  email: string;
  name: string | null;
}
