import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  parse,
  valueFromAST,
  type ASTVisitor,
  type DocumentNode,
  type GraphQLField,
  type GraphQLNamedType,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { Config } from '../config.ts';
import { PAGE_MAX } from '../tasks/task.validation.ts';
import { ErrorCode, limitExceeded, TOKEN_LIMIT_MESSAGE } from './errors.ts';

export type OperationLimits = Config['graphql']['limits'];

/**
 * A `totalCount` is one COUNT query over the viewer's tasks: about as much work as reading a page,
 * so it weighs 200 fields: more than a page of 20 tasks.
 */
export const TOTAL_COUNT_COST = 200;

/** The refusal for a document over the token limit (parse time; graphql-js stops counting there). */
export function tooManyTokens(max: number): GraphQLError {
  return limitExceeded(ErrorCode.TOO_MANY_TOKENS, 'GRAPHQL_MAX_TOKENS', 'tokens', undefined, max);
}

/**
 * Parses an operation with the token limit: the WebSocket path calls this (Apollo's HTTP path gets
 * the same limit through `parseOptions: { maxTokens }`). Over the limit it throws `tooManyTokens`
 * (code TOO_MANY_TOKENS); other syntax errors are graphql-js's GraphQLErrors.
 */
export function parseOperation(source: string, limits: OperationLimits): DocumentNode {
  try {
    return parse(source, { maxTokens: limits.maxTokens });
  } catch (err) {
    if (err instanceof GraphQLError && TOKEN_LIMIT_MESSAGE.test(err.message)) throw tooManyTokens(limits.maxTokens);
    throw err;
  }
}

/** GraphQL Armor's messages end with the count it found: "..., found 31." */
const found = (err: GraphQLError) => {
  const match = /found (\d+(?:\.\d+)?)\.?$/.exec(err.message);
  return match ? Math.ceil(Number(match[1])) : undefined;
};

/** An Armor rule that reports our coded error (Armor's default is to throw out of `validate`). */
function armor(
  rule: (options: object) => ValidationRule,
  options: object,
  code: ErrorCode,
  setting: string,
  what: string,
  max: number,
): ValidationRule {
  return (context) =>
    rule({
      ...options,
      n: max,
      exposeLimits: true,
      propagateOnRejection: false,
      onReject: [(_ctx: unknown, err: GraphQLError) => context.reportError(limitExceeded(code, setting, what, found(err), max))],
    })(context);
}

type Parent = GraphQLNamedType | undefined;

/**
 * Estimated cost of an operation, before it runs: every field 1, `totalCount` TOTAL_COUNT_COST,
 * and every list field times the page size of the connection it is in. The page size is the
 * `first` written in the operation, or PAGE_MAX when it is a variable (variables are not known
 * here, and the service caps them at PAGE_MAX), or the argument's declared default. Fragments are
 * counted where they are spread, every time.
 */
export function operationCost(selectionSet: SelectionSetNode, parent: Parent, context: ValidationContext): number {
  // Fragments spreading fragments twice over would take exponential time to expand: remember the
  // cost of each fragment at each page size.
  const memo = new Map<string, number>();
  return costOf(selectionSet, parent, context, 1, [], memo);
}

function costOf(
  selectionSet: SelectionSetNode,
  parent: Parent,
  context: ValidationContext,
  pageSize: number,
  spreading: string[],
  memo: Map<string, number>,
): number {
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const name = selection.name.value;
      const fragment = context.getFragment(name);
      // A cycle is reported by graphql-js's own NoFragmentCycles rule; do not loop on it.
      if (!fragment || spreading.includes(name)) continue;
      const key = `${name}:${pageSize}`;
      let fragmentCost = memo.get(key);
      if (fragmentCost === undefined) {
        const type = context.getSchema().getType(fragment.typeCondition.name.value) ?? parent;
        fragmentCost = costOf(fragment.selectionSet, type, context, pageSize, [...spreading, name], memo);
        memo.set(key, fragmentCost);
      }
      cost += fragmentCost;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? context.getSchema().getType(selection.typeCondition.name.value) : parent;
      cost += costOf(selection.selectionSet, type ?? parent, context, pageSize, spreading, memo);
    } else {
      const name = selection.name.value;
      const field: GraphQLField<unknown, unknown> | undefined =
        parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
      let own = name === 'totalCount' ? TOTAL_COUNT_COST : 1;
      if (field && selection.selectionSet) {
        const first = field.args.find((a) => a.name === 'first');
        let size = pageSize;
        if (first) {
          const written = selection.arguments?.find((a) => a.name.value === 'first');
          if (!written) size = typeof first.defaultValue === 'number' ? first.defaultValue : PAGE_MAX;
          else if (written.value.kind === Kind.VARIABLE) size = PAGE_MAX;
          else {
            const value: unknown = valueFromAST(written.value, first.type);
            size = typeof value === 'number' && value > 0 ? Math.min(value, PAGE_MAX) : 1;
          }
        }
        own += costOf(selection.selectionSet, getNamedType(field.type), context, size, spreading, memo);
      }
      const list = field !== undefined && isListType(getNullableType(field.type));
      cost += list ? own * pageSize : own;
    }
  }
  return cost;
}

function maxCost(max: number): ValidationRule {
  return (context): ASTVisitor => ({
    OperationDefinition(node) {
      const schema = context.getSchema();
      const root = schema.getRootType(node.operation);
      const cost = operationCost(node.selectionSet, root ?? undefined, context);
      if (cost > max) context.reportError(limitExceeded(ErrorCode.QUERY_TOO_COMPLEX, 'GRAPHQL_MAX_COST', 'cost points', cost, max));
    },
  });
}

/**
 * The validation rules every operation passes before it runs, on every transport (Apollo's HTTP
 * path and the WebSocket path alike). Apollo Server sets no limits of its own; these bound the
 * work one request can ask for at every level, fragments included: aliases (`__typename` ones
 * too), depth, directives and an estimated cost. (Tokens are bounded at parse time:
 * `parseOperation`, or Apollo's `parseOptions: { maxTokens }`.)
 */
export function operationRules(limits: OperationLimits): ValidationRule[] {
  return [
    armor(maxAliasesRule, { allowList: [] }, ErrorCode.TOO_MANY_ALIASES, 'GRAPHQL_MAX_ALIASES', 'aliases', limits.maxAliases),
    armor(
      maxDepthRule,
      { ignoreIntrospection: true, flattenFragments: true },
      ErrorCode.QUERY_TOO_COMPLEX,
      'GRAPHQL_MAX_DEPTH',
      'levels of nesting',
      limits.maxDepth,
    ),
    armor(maxDirectivesRule, {}, ErrorCode.QUERY_TOO_COMPLEX, 'GRAPHQL_MAX_DIRECTIVES', 'directives', limits.maxDirectives),
    maxCost(limits.maxCost),
  ];
}
