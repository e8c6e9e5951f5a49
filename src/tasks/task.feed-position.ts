import { createHash } from 'node:crypto';

/**
 * A reader's position in the task change log: which changes it has been given. Not a number: a
 * change becomes readable when its transaction commits, and transactions commit in another order
 * than they start (and than their ids). A position is a snapshot in PostgreSQL's sense, widened to
 * what a reader can be given part-way:
 *
 * - every change of a transaction with an id (xid8) at or above `xmax` is still to come;
 * - below `xmax`, every change is delivered except those of the transactions in `xip`
 *   (in progress when the position was taken, or not read to the end yet);
 * - for some of those, `partial` says that their changes up to an id (the order within the
 *   transaction) were delivered already.
 *
 * Reading from a position P with the statement's own snapshot S returns exactly the committed
 * changes P lacks; afterwards the reader is at `union(P, S)`. Delivering a read in (xid, id) order
 * and stopping anywhere leaves it at `mix(P, S, boundary, ...)`: S's knowledge below the boundary,
 * P's above. Both are again positions; see the tests in test/feed-position.test.ts.
 */
export interface FeedPosition {
  readonly xmax: number;
  /** Ascending, all below xmax. */
  readonly xip: readonly number[];
  /** Transaction id -> the highest change id of it already delivered; only for members of xip. */
  readonly partial: ReadonlyMap<number, number>;
  /** When the oldest knowledge in this position was read (the database's clock, Unix seconds). */
  readonly time: number;
}

const NONE: ReadonlyMap<number, number> = new Map();

function safe(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what} out of range: ${n}`);
  return n;
}

/** A position from PostgreSQL's text form of a snapshot, `xmin:xmax:xip,...` (pg_current_snapshot()). */
export function fromSnapshot(text: string, time: number): FeedPosition {
  const match = /^(\d+):(\d+):([\d,]*)$/.exec(text);
  if (!match) throw new Error(`not a snapshot: ${text}`);
  const xmax = safe(Number(match[2]), 'xmax');
  const xip = match[3] ? match[3].split(',').map((x) => safe(Number(x), 'xip')) : [];
  xip.sort((a, b) => a - b);
  return canonical(xmax, xip, NONE, time);
}

/** Index of `x` in the ascending `xs`, or -1. */
function indexOf(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = xs[mid];
    if (v === undefined || v === x) return v === undefined ? -1 : mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * How much of transaction `x` the position has delivered: `true` all of it, otherwise the highest
 * change id delivered (0: none).
 */
export function progress(p: FeedPosition, x: number): true | number {
  if (x >= p.xmax) return 0;
  if (indexOf(p.xip, x) < 0) return true;
  return p.partial.get(x) ?? 0;
}

/** Whether the position has delivered change `id` of transaction `xid`. */
export function delivered(p: FeedPosition, xid: number, id: number): boolean {
  const done = progress(p, xid);
  return done === true || id <= done;
}

/** The smallest transaction id whose changes the position may still need (rows below it are not). */
export function oldestNeeded(p: FeedPosition): number {
  return p.xip[0] ?? p.xmax;
}

/**
 * One representation per set of delivered changes: trailing members of xip right below xmax with
 * nothing delivered are folded into xmax. (Equal positions then compare equal field by field.)
 */
function canonical(xmax: number, xip: number[], partial: ReadonlyMap<number, number>, time: number): FeedPosition {
  while (xip.length > 0 && xip[xip.length - 1] === xmax - 1 && !partial.has(xmax - 1)) {
    xip.pop();
    xmax -= 1;
  }
  return { xmax, xip, partial: partial.size === 0 ? NONE : partial, time };
}

/** Every change `b` has delivered, `a` has delivered too. */
export function contains(a: FeedPosition, b: FeedPosition): boolean {
  if (a === b) return true;
  // Transactions at or above a.xmax: a has delivered none of them, so b must not have either.
  if (b.xmax > a.xmax) {
    let pending = 0;
    for (const x of b.xip) if (x >= a.xmax && !b.partial.has(x)) pending++;
    if (pending !== b.xmax - a.xmax) return false;
  }
  for (const x of a.xip) {
    const mine = a.partial.get(x) ?? 0;
    const theirs = progress(b, x);
    if (theirs === true || theirs > mine) return false;
  }
  return true;
}

export function equals(a: FeedPosition, b: FeedPosition): boolean {
  return contains(a, b) && contains(b, a);
}

/** Everything either position has delivered. Returns `s` itself when it already holds all of `p` (readers converge on one object). */
export function union(p: FeedPosition, s: FeedPosition): FeedPosition {
  if (contains(s, p)) return s;
  if (contains(p, s)) return p;
  const xmax = Math.max(p.xmax, s.xmax);
  const xip: number[] = [];
  const partial = new Map<number, number>();
  const add = (x: number) => {
    const a = progress(p, x);
    const b = progress(s, x);
    if (a === true || b === true) return;
    xip.push(x);
    const most = Math.max(a, b);
    if (most > 0) partial.set(x, most);
  };
  // A transaction listed by neither is delivered by the one whose xmax is above it.
  for (const x of s.xip) add(x);
  for (const x of p.xip) if (indexOf(s.xip, x) < 0) add(x);
  xip.sort((a, b) => a - b);
  return canonical(xmax, xip, partial, Math.min(p.time, s.time));
}

/**
 * The position of a reader at `p` who was given, from a read with snapshot `s` in (xid, id)
 * order, everything below transaction `b`, and of `b` itself the changes up to `bDone` (undefined:
 * none): `s`'s knowledge below `b`, `p`'s above, and whatever `p` had already.
 */
export function mix(p: FeedPosition, s: FeedPosition, b: number, bDone?: number): FeedPosition {
  // b is the transaction of a change read with s, so s knows everything below it.
  if (b >= s.xmax) throw new Error(`boundary ${b} is not below the snapshot's xmax ${s.xmax}`);
  const below = union(p, s);
  const xip: number[] = [];
  const partial = new Map<number, number>();
  for (const x of below.xip) {
    if (x >= b) break;
    xip.push(x);
    const done = below.partial.get(x);
    if (done !== undefined) partial.set(x, done);
  }
  // What p had of b, plus what the read gave (p may be ahead of where the read started).
  const had = progress(p, b);
  const atB = had === true || bDone === undefined ? had : Math.max(had, bDone);
  if (atB !== true) {
    xip.push(b);
    if (atB > 0) partial.set(b, atB);
  }
  for (const x of p.xip) {
    if (x <= b) continue;
    xip.push(x);
    const done = p.partial.get(x);
    if (done !== undefined) partial.set(x, done);
  }
  return canonical(Math.max(p.xmax, b + 1), xip, partial, Math.min(p.time, s.time));
}

// ---------------------------------------------------------------------------------------------
// Cursors: a position as an opaque string, bound to its owner.
// ---------------------------------------------------------------------------------------------

const VERSION = 1;
const OWNER_TAG_BYTES = 6;
/** Far above any real position (a few hundred transactions in progress take ~1 KiB). */
export const MAX_CURSOR_LENGTH = 8192;

/** The first bytes of SHA-256 of the owner's id: a cursor names whose it is without saying who. */
export function ownerTag(ownerId: string): Buffer {
  return createHash('sha256').update(ownerId).digest().subarray(0, OWNER_TAG_BYTES);
}

function writeVarint(out: number[], n: number): void {
  safe(n, 'value');
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/**
 * `base64url(version, owner tag, time, xmax, |xip|, xip as descending gaps from xmax,
 * |partial|, (index in xip, id)...)`, all integers as LEB128 varints: a position with no
 * transaction in progress is about 25 characters.
 */
export function encodeCursor(p: FeedPosition, tag: Buffer): string {
  const out: number[] = [VERSION, ...tag];
  writeVarint(out, p.time);
  writeVarint(out, p.xmax);
  writeVarint(out, p.xip.length);
  let previous = p.xmax;
  for (const x of [...p.xip].reverse()) {
    writeVarint(out, previous - x);
    previous = x;
  }
  writeVarint(out, p.partial.size);
  p.xip.forEach((x, i) => {
    const done = p.partial.get(x);
    if (done === undefined) return;
    writeVarint(out, i);
    writeVarint(out, done);
  });
  return Buffer.from(out).toString('base64url');
}

export type DecodedCursor = { ok: true; position: FeedPosition } | { ok: false; problem: 'malformed' | 'foreign' };

/** The position in a cursor, if it is one and `tag`'s (see ownerTag). Never throws. */
export function decodeCursor(cursor: string, tag: Buffer): DecodedCursor {
  const malformed = { ok: false, problem: 'malformed' } as const;
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return malformed;
  const bytes = Buffer.from(cursor, 'base64url');
  let at = 0;
  const varint = (): number | undefined => {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = bytes[at++];
      if (byte === undefined) return undefined;
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return Number.isSafeInteger(n) ? n : undefined;
      scale *= 0x80;
    }
    return undefined;
  };
  if (bytes[at++] !== VERSION || bytes.length < 1 + OWNER_TAG_BYTES) return malformed;
  const owner = bytes.subarray(at, at + OWNER_TAG_BYTES);
  at += OWNER_TAG_BYTES;
  const time = varint();
  const xmax = varint();
  const count = varint();
  if (time === undefined || xmax === undefined || count === undefined || count > bytes.length) return malformed;
  const xip = new Array<number>(count);
  let previous = xmax;
  for (let i = count - 1; i >= 0; i--) {
    const gap = varint();
    if (gap === undefined || gap === 0 || gap > previous) return malformed;
    previous -= gap;
    xip[i] = previous;
  }
  const partials = varint();
  if (partials === undefined || partials > count) return malformed;
  const partial = new Map<number, number>();
  let lastIndex = -1;
  for (let i = 0; i < partials; i++) {
    const index = varint();
    const done = varint();
    const x = index === undefined ? undefined : xip[index];
    if (index === undefined || x === undefined || done === undefined || index <= lastIndex || done === 0) return malformed;
    lastIndex = index;
    partial.set(x, done);
  }
  if (at !== bytes.length) return malformed;
  // Only now, so that garbage is called malformed rather than foreign.
  if (!owner.equals(tag)) return { ok: false, problem: 'foreign' };
  return { ok: true, position: canonical(xmax, xip, partial, time) };
}
