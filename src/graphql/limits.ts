import { GraphQLError, Kind, type ASTVisitor, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';
import type { Config } from '../config.ts';

/** Root fields (aliases included, fragments followed) one operation may select. */
export const MAX_ROOT_FIELDS = 50;

function countRootFields(selectionSet: SelectionSetNode, context: ValidationContext, seen = new Set<string>()): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) count += selection.name.value.startsWith('__') ? 0 : 1;
    else if (selection.kind === Kind.INLINE_FRAGMENT) count += countRootFields(selection.selectionSet, context, seen);
    else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = context.getFragment(selection.name.value);
      if (fragment) count += countRootFields(fragment.selectionSet, context, seen);
    }
  }
  return count;
}

/**
 * Apollo Server sets no limit of its own: one request aliasing `tasks(first: 100)` a thousand times
 * would run a thousand queries. The schema has no cycles (User has no tasks), so depth is bounded;
 * breadth at the root is what needs a cap.
 */
export function maxRootFields(limit = MAX_ROOT_FIELDS) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const count = countRootFields(node.selectionSet, context);
      if (count > limit) {
        context.reportError(
          new GraphQLError(`The operation selects ${count} root fields; at most ${limit} are allowed per request.`, { nodes: [node] }),
        );
      }
    },
  });
}

/**
 * The validation rules every operation passes before it runs, on every transport (Apollo's HTTP
 * path and the WebSocket path alike).
 */
export function operationRules(_limits: Config['graphql']['limits']): ValidationRule[] {
  return [maxRootFields()];
}
