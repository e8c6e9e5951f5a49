import { APIError } from 'better-auth/api';

/** RFC 5321's limit on a forward path, brackets excluded: no mail system delivers a longer address. */
export const MAX_EMAIL_LENGTH = 254;
/** Characters (code points) of a user's name: enough for any real name, small enough for a token. */
export const MAX_NAME_LENGTH = 100;

/**
 * Characters a name may not hold: controls (Cc: NUL, newlines, escapes...), lone surrogates (Cs),
 * line and paragraph separators (Zl, Zp) and invisible format characters (Cf: bidirectional
 * overrides such as U+202E, zero-width spaces, U+FEFF...) that make one name display as another.
 * ZWNJ and ZWJ (U+200C, U+200D) stay allowed: Persian and Indic names, and emoji sequences, need them.
 */
const INVISIBLE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\p{Cf}]/u;
const ALLOWED_IN_NAME = new Set(['\u200c', '\u200d']);

function forbiddenCharacter(name: string): string | undefined {
  for (const ch of name) if (INVISIBLE.test(ch) && !ALLOWED_IN_NAME.has(ch)) return ch;
  return undefined;
}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Refuses a name or email the rest of the system cannot carry: the token that names the user must
 * stay well under the API's 4,096-character bound (a 60 KB name made an 80 KB JWT that every
 * request then had refused), and a name is shown to people, who must see what it says. Throws
 * Better Auth's APIError (400, `{ code, message }`), so that /api/auth answers in its own shape.
 * Fields absent from `fields` (an update of something else) are not checked.
 */
export function checkUserFields(fields: { name?: unknown; email?: unknown }): void {
  const { name, email } = fields;
  if (typeof email === 'string') {
    if (email.length > MAX_EMAIL_LENGTH)
      throw new APIError('BAD_REQUEST', {
        code: 'EMAIL_TOO_LONG',
        message: `The email address is longer than ${MAX_EMAIL_LENGTH} characters.`,
      });
    // Better Auth's own check refuses these too on sign-up; here for every other way a user is written.
    if (INVISIBLE.test(email)) throw new APIError('BAD_REQUEST', { code: 'INVALID_EMAIL', message: 'Invalid email' });
  }
  if (typeof name === 'string') {
    // Counted in code points (an emoji is one), so the bound does not depend on UTF-16.
    let length = 0;
    for (const _ of name) if (++length > MAX_NAME_LENGTH) break;
    if (length > MAX_NAME_LENGTH)
      throw new APIError('BAD_REQUEST', { code: 'NAME_TOO_LONG', message: `The name is longer than ${MAX_NAME_LENGTH} characters.` });
    const bad = forbiddenCharacter(name);
    if (bad !== undefined)
      throw new APIError('BAD_REQUEST', {
        code: 'NAME_INVALID_CHARACTER',
        message: `The name contains ${codePoint(bad)}, a control or invisible formatting character.`,
      });
  }
}

/**
 * The name a token carries: a row written before the bounds (or by hand) may hold a longer one, and
 * its token must still fit. The API reads the name from the user row anyway; the claim is a hint.
 */
export function nameClaim(name: string | null | undefined): string | null {
  if (!name) return null;
  // Code points, as the bound counts them: never half of a surrogate pair.
  let points = 0;
  let end = 0;
  for (const ch of name) {
    if (++points > MAX_NAME_LENGTH) return name.slice(0, end);
    end += ch.length;
  }
  return name;
}
