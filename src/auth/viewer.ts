/** The signed-in caller of a request, taken from a verified token. */
export interface Viewer {
  /** Better Auth user id (the token's `sub`). */
  id: string;
  email: string;
  name: string | null;
}
