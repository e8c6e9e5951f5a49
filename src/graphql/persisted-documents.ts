import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PersistedQueryOptions } from '@apollo/server';
import {
  getOperationAST,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { ConfigError } from '../config.ts';
import type { Logger } from '../logger.ts';
import { ErrorCode } from './errors.ts';
import { operationRules, parseOperation, type OperationLimits } from './limits.ts';

/** The variable naming the manifest: every start-up problem with the file names it. */
export const MANIFEST_VARIABLE = 'PERSISTED_DOCUMENTS_FILE';

/** A document of the manifest: hashed, parsed and validated at start. */
export interface PersistedDocument {
  /** `sha256:<hex>`: the GraphQL over HTTP document identifier. */
  id: string;
  text: string;
  document: DocumentNode;
}

/**
 * The trusted documents: what GraphQL Code Generator's client preset writes to
 * `persisted-documents.json` with `persistedDocuments: { hashAlgorithm: 'sha256' }`, an object of
 * `"sha256:<hex>": "<document text>"` entries (bare hex keys, as older versions and other tools
 * write them, are read too).
 */
export interface Manifest {
  readonly file: string;
  readonly size: number;
  /** The document whose text hashes to this sha256 (64 hex digits, any case). */
  get(sha256Hex: string): PersistedDocument | undefined;
}

const MANIFEST_KEY = /^(?:sha256:)?([0-9a-f]{64})$/i;
/** A request's `documentId` (GraphQL over HTTP, persisted documents appendix). */
const DOCUMENT_ID = /^sha256:([0-9a-f]{64})$/i;
const HEX = /^[0-9a-f]{64}$/i;
/** Problems listed one by one before the rest are only counted. */
const MAX_PROBLEMS = 20;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface ManifestOptions {
  /** The limits every operation is held to: a listed document over one would be refused at every request. */
  limits: OperationLimits;
  /** Without introspection, a listed document that introspects would fail at every request. */
  introspection: boolean;
}

/**
 * Reads and checks the manifest: each entry's key is the sha256 of its text, and the text parses
 * and validates against the schema with the server's own rules and limits. Any problem stops the
 * start: a `ConfigError` naming PERSISTED_DOCUMENTS_FILE, the file and every bad entry.
 */
export function loadManifest(file: string, schema: GraphQLSchema, options: ManifestOptions): Manifest {
  const fail = (message: string) => new ConfigError([`${MANIFEST_VARIABLE}: ${message}`]);
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    throw fail(`cannot read ${file} (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw fail(`${file} is not JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) {
    throw fail(`${file} must be a JSON object of "sha256:<hex>": "<document>" entries, as GraphQL Code Generator's client preset writes it`);
  }
  const rules = [...specifiedRules, ...operationRules(options.limits), ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const byHash = new Map<string, PersistedDocument>();
  const problems: string[] = [];
  for (const [key, text] of Object.entries(json)) {
    const problem = checkEntry(key, text, schema, rules, options.limits);
    if (typeof problem === 'string') problems.push(`${MANIFEST_VARIABLE} (${file}): entry "${key}": ${problem}`);
    else byHash.set(problem.id.slice('sha256:'.length), problem);
  }
  if (problems.length > MAX_PROBLEMS) problems.splice(MAX_PROBLEMS, Infinity, `... and ${problems.length - MAX_PROBLEMS} more bad entries`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { file, size: byHash.size, get: (hex) => byHash.get(hex.toLowerCase()) };
}

/** The checked document, or what is wrong with the entry. */
function checkEntry(
  key: string,
  text: unknown,
  schema: GraphQLSchema,
  rules: typeof specifiedRules,
  limits: OperationLimits,
): PersistedDocument | string {
  const hex = MANIFEST_KEY.exec(key)?.[1]?.toLowerCase();
  if (!hex) return 'the key is not a sha256 document id ("sha256:" and 64 hex digits)';
  if (typeof text !== 'string') return "the value is not the document's text (a string)";
  const actual = sha256(text);
  if (actual !== hex) {
    return `its text hashes to sha256:${actual}, not to its key (edited by hand, or generated with another hashAlgorithm than 'sha256')`;
  }
  let document: DocumentNode;
  try {
    document = parseOperation(text, limits);
  } catch (err) {
    return `the text does not parse: ${(err as Error).message}`;
  }
  const errors = validate(schema, document, rules, { maxErrors: 10 });
  if (errors.length > 0) {
    const shown = errors.slice(0, 3).map((e) => e.message);
    if (errors.length > 3) shown.push(`and ${errors.length - 3} more`);
    return `the document is not valid against this server's schema and limits: ${shown.join('; ')}`;
  }
  return { id: `sha256:${hex}`, text, document };
}

/** The fields of a GraphQL request that say which document to run (HTTP body or query string, or a graphql-ws payload). */
export interface OperationFields {
  query?: unknown;
  documentId?: unknown;
  operationName?: unknown;
  extensions?: unknown;
}

export type Transport = 'http' | 'ws';

/** What to run for a request. */
export type Resolution =
  /** As it was sent: its text, or an automatic persisted query for Apollo to look up. */
  | { kind: 'as-sent' }
  /** This listed document, in place of the request's `documentId` or `extensions.persistedQuery`. */
  | { kind: 'listed'; document: PersistedDocument }
  /** Nothing: a GraphQL error with this code, HTTP 400. */
  | { kind: 'refused'; code: ErrorCode; message: string };

export interface DocumentPolicy {
  /** PERSISTED_DOCUMENTS_ONLY in force: only listed documents, sent by id, run. */
  readonly only: boolean;
  resolve(fields: OperationFields, transport: Transport): Resolution;
}

export interface DocumentPolicyOptions {
  manifest: Manifest | undefined;
  only: boolean;
  /** The parser's token limit applies to reading the operation name of a refused text. */
  limits: OperationLimits;
  logger: Logger;
}

const REFUSED = 'refused an operation: not a trusted document';
const WOULD_REFUSE = 'would refuse this operation with PERSISTED_DOCUMENTS_ONLY=true';

const refusals = {
  idRequired: {
    kind: 'refused',
    code: ErrorCode.PERSISTED_QUERY_ID_REQUIRED,
    message:
      'This server runs only the documents its clients were built with: send the operation\'s id ({ "documentId": "sha256:<hex>" }, or extensions.persistedQuery.sha256Hash), not its text.',
  },
  notInList: {
    kind: 'refused',
    code: ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
    message: "This document id is not in the server's list of trusted documents (a client built after the server's manifest?).",
  },
  both: { kind: 'refused', code: ErrorCode.BAD_REQUEST, message: 'Send either the query or its documentId, not both.' },
  badId: {
    kind: 'refused',
    code: ErrorCode.BAD_REQUEST,
    message: 'documentId must be a string: "sha256:" and the 64 hex digits of the document\'s hash.',
  },
} as const satisfies Record<string, Resolution>;

/**
 * Decides, for every operation on every transport, which document runs: the one place where
 * PERSISTED_DOCUMENTS_ONLY is enforced. An id (`documentId`, or Apollo's
 * `extensions.persistedQuery.sha256Hash` without a query) that is in the manifest runs the listed
 * document. With `only`, text is refused (PERSISTED_QUERY_ID_REQUIRED) and so is an id that is not
 * listed (PERSISTED_QUERY_NOT_IN_LIST). Without it, text runs, and an unlisted Apollo hash goes on
 * to Apollo's automatic persisted queries (HTTP only).
 *
 * Every refusal is logged as one warning with the operation's name (when its text parses) and
 * `documentHash`; while a manifest is loaded but `only` is off, so is every operation that would
 * be refused with it on, so that a rollout shows what it would break before it breaks anything.
 * Repeats of one document are folded by the logger (`repeatFilter`).
 */
export function createDocumentPolicy(options: DocumentPolicyOptions): DocumentPolicy {
  const { manifest, only, logger } = options;
  // Operation names of texts seen lately, by hash: a client repeating one text is parsed once.
  const names = new LRUCache<string, { name: string | undefined }>({ max: 1000 });

  const nameOf = (hash: string, text: string, operationName: unknown): string | undefined => {
    const key = `${hash}\u0000${typeof operationName === 'string' ? operationName : ''}`;
    let known = names.get(key);
    if (!known) {
      let name: string | undefined;
      try {
        const operation = getOperationAST(parseOperation(text, options.limits), typeof operationName === 'string' ? operationName : undefined);
        name = operation?.name?.value;
      } catch {
        name = undefined; // does not parse: logged without a name
      }
      names.set(key, (known = { name }));
    }
    return known.name;
  };

  const log = (message: string, fields: Record<string, unknown>) => logger.warn(fields, message);

  /** A refused (or, with `only` off, would-be refused) text. */
  const text = (query: string, operationName: unknown, transport: Transport, refuse: boolean): void => {
    const hash = sha256(query);
    const listed = manifest?.get(hash) !== undefined;
    log(refuse ? REFUSED : WOULD_REFUSE, {
      code: ErrorCode.PERSISTED_QUERY_ID_REQUIRED,
      operationName: nameOf(hash, query, operationName),
      documentHash: `sha256:${hash}`,
      // In the manifest, but sent as text: a client not (yet) built to send ids.
      listed,
      transport,
    });
  };

  const unlisted = (hash: string, operationName: unknown, transport: Transport, refuse: boolean): void => {
    log(refuse ? REFUSED : WOULD_REFUSE, {
      code: ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
      ...(typeof operationName === 'string' ? { operationName } : {}),
      documentHash: HEX.test(hash) ? `sha256:${hash.toLowerCase()}` : hash.slice(0, 100),
      transport,
    });
  };

  return {
    only,
    resolve(fields, transport) {
      const query = typeof fields.query === 'string' && fields.query !== '' ? fields.query : undefined;
      const { documentId, operationName } = fields;

      if (documentId !== undefined && documentId !== null) {
        if (typeof documentId !== 'string') return refusals.badId;
        if (query !== undefined) return refusals.both;
        const hex = DOCUMENT_ID.exec(documentId)?.[1];
        const document = hex ? manifest?.get(hex) : undefined;
        if (document) return { kind: 'listed', document };
        unlisted(hex ?? documentId, operationName, transport, true);
        return refusals.notInList;
      }

      const persisted = isObject(fields.extensions) ? fields.extensions['persistedQuery'] : undefined;
      const hash = isObject(persisted) && typeof persisted['sha256Hash'] === 'string' ? persisted['sha256Hash'] : undefined;
      if (hash !== undefined && query === undefined) {
        const document = HEX.test(hash) ? manifest?.get(hash) : undefined;
        if (document) return { kind: 'listed', document };
        // Over HTTP, without `only`, Apollo's automatic persisted queries may know it.
        const apq = transport === 'http' && !only;
        if (manifest || !apq) unlisted(hash, operationName, transport, !apq);
        return apq ? { kind: 'as-sent' } : refusals.notInList;
      }

      if (query !== undefined) {
        if (only) {
          text(query, operationName, transport, true);
          return refusals.idRequired;
        }
        // A rollout in progress (a manifest, `only` still off): say what the switch would refuse.
        if (manifest) text(query, operationName, transport, false);
      }
      return { kind: 'as-sent' };
    },
  };
}

/** Bytes of operation text Apollo's automatic persisted queries may hold (least recently used go first). */
export const APQ_CACHE_BYTES = 4 * 1024 * 1024;

/**
 * Apollo's APQ store, bounded: any client can register any text, so it must not grow with them.
 * (Apollo's default shares its 30 MiB cache; this one is APQ's alone, and smaller.) Entries are
 * evicted by size only: Apollo's `ttl` is not needed for a cache of immutable hash -> text.
 */
export function apqCache(maxBytes = APQ_CACHE_BYTES): NonNullable<PersistedQueryOptions['cache']> {
  const cache = new LRUCache<string, string>({ maxSize: maxBytes, sizeCalculation: (value, key) => value.length + key.length });
  return {
    get: (key) => Promise.resolve(cache.get(key)),
    set: (key, value) => {
      cache.set(key, value);
      return Promise.resolve();
    },
    delete: (key) => Promise.resolve(cache.delete(key)),
  };
}

/** The GraphQL error for a refusal (the WebSocket path; HTTP sends the same shape itself). */
export function refusalError(resolution: Extract<Resolution, { kind: 'refused' }>): GraphQLError {
  return new GraphQLError(resolution.message, { extensions: { code: resolution.code } });
}
