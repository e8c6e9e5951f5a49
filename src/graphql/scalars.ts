import { GraphQLError, GraphQLScalarType, type ValueNode } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { ErrorCode } from './errors.ts';

/**
 * graphql-scalars' DateTime for input (RFC 3339, parsed to Date), with output that passes the
 * ISO strings the repositories produce straight through. graphql-scalars would turn them into
 * Date objects for JSON.stringify to print again: 40 Dates per page of 20 tasks.
 */
export const DateTime = new GraphQLScalarType({
  ...DateTimeResolver.toConfig(),
  // A bad date written inline in a query fails validation; marked, so that it is reported as
  // BAD_USER_INPUT like a bad date in a variable (see formatError).
  parseLiteral: (node: ValueNode, variables?: Record<string, unknown> | null) => {
    try {
      return DateTimeResolver.parseLiteral(node, variables);
    } catch (err) {
      throw new GraphQLError(err instanceof Error ? err.message : 'Invalid DateTime', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
    }
  },
  serialize: (value) => {
    if (typeof value === 'string') return value;
    if (value instanceof Date) return value.toISOString();
    return DateTimeResolver.serialize(value);
  },
});
