import { makeOperation, mapExchange, type Exchange, type PersistedDocument } from 'urql';
import * as generated from './gql/graphql.ts';

/**
 * Trusted documents (docs/trusted-documents.md): this app sends its operations by id, never as
 * text, and the API runs only the documents listed in the manifest codegen wrote beside the typed
 * documents (src/gql/persisted-documents.json).
 *
 * The generated documents carry no text (codegen.ts: persistedDocuments in `replaceDocumentWithHash`
 * mode), only `__meta__`: the id (`hash`, "sha256:<hex>"), the operation's type and name. urql
 * sends `{ documentId }` instead of `{ query }` for a document that has a `documentId` and no
 * definitions; but in development it also checks that a document's operation type is the one it
 * is asked to run (useQuery, useMutation, subscription), which a document without definitions
 * fails. So each generated document gets a stand-in definition (type and name, no selections),
 * and `sendById` swaps it for a definition-less one just before the request goes out.
 */
interface Meta {
  hash: string;
  operationType: 'query' | 'mutation' | 'subscription';
  operationName?: string;
}

const metaOf = (document: unknown): Meta | undefined => {
  const meta = (document as { __meta__?: Partial<Meta> } | null | undefined)?.__meta__;
  return typeof meta?.hash === 'string' && meta.operationType ? (meta as Meta) : undefined;
};

// Once, when this module loads (api.ts imports it; nothing runs an operation before the client exists).
for (const document of Object.values(generated) as unknown[]) {
  const meta = metaOf(document);
  if (!meta) continue;
  Object.assign(document as object, {
    kind: 'Document',
    documentId: meta.hash,
    definitions: [
      {
        kind: 'OperationDefinition',
        operation: meta.operationType,
        ...(meta.operationName ? { name: { kind: 'Name', value: meta.operationName } } : {}),
        selectionSet: { kind: 'SelectionSet', selections: [] },
      },
    ],
  });
}

/** The id a generated document is sent by (for graphql-ws, used without urql: live-updates.ts). */
export function documentIdOf(document: unknown): string {
  const meta = metaOf(document);
  if (!meta) throw new Error('not a generated document');
  return meta.hash;
}

/** By id: the document urql sends as `{ documentId }`, one per id. */
const sent = new Map<string, PersistedDocument>();

/**
 * Place after cacheExchange and authExchange, before fetchExchange and subscriptionExchange: every
 * generated operation leaves as `{ documentId, variables }` (and over graphql-ws with an empty `query`).
 */
export const sendById: Exchange = mapExchange({
  onOperation(operation) {
    const meta = metaOf(operation.query);
    if (!meta) return operation;
    let query = sent.get(meta.hash);
    if (!query) sent.set(meta.hash, (query = { ...(operation.query as PersistedDocument), definitions: [], documentId: meta.hash }));
    return makeOperation(operation.kind, { ...operation, query });
  },
});
