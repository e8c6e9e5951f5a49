import { getDirective, MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  defaultFieldResolver,
  getNamedType,
  type GraphQLFieldConfig,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { Unauthenticated } from '../errors.ts';

/** What the directive needs of a request context: who is calling, if anyone. */
interface ViewerContext {
  viewer: unknown;
}

/** Whether `node` carries the directive `name` at least once. */
function hasDirective(schema: GraphQLSchema, node: Parameters<typeof getDirective>[1], name: string): boolean {
  return (getDirective(schema, node, name)?.length ?? 0) > 0;
}

/** Query, Mutation and Subscription, those the schema has. */
function rootTypes(schema: GraphQLSchema): GraphQLObjectType[] {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter((t) => t != null);
}

/** Root fields that carry neither `@auth` nor `@public`, as `Type.field`. */
export function unguardedRootFields(schema: GraphQLSchema): string[] {
  const unguarded: string[] = [];
  for (const type of rootTypes(schema)) {
    for (const field of Object.values(type.getFields())) {
      const guarded = hasDirective(schema, field, 'auth') || hasDirective(schema, field, 'public');
      if (!guarded) unguarded.push(`${type.name}.${field.name}`);
    }
  }
  return unguarded;
}

/**
 * Applies `@auth`: every field marked with it refuses anonymous callers with UNAUTHENTICATED
 * before its resolver (and a subscription's `subscribe`) runs. On a type, every field that returns
 * the type is guarded so: no field of it can resolve for an anonymous caller, since it is only
 * reached through one of those (on a root type, which no field returns, its own fields are). This
 * leaves the type's own fields with their resolvers as they are: a Task's plain fields stay plain
 * property reads, which graphql-jit compiles inline (a guard on each was 160 resolver calls a page).
 * Deny by default: a root field with neither `@auth` nor `@public` stops the server from starting.
 */
export function authDirectiveTransformer(schema: GraphQLSchema): GraphQLSchema {
  const unguarded = unguardedRootFields(schema);
  if (unguarded.length > 0) {
    throw new Error(`Root fields without @auth or @public (add one to each): ${unguarded.join(', ')}`);
  }
  const roots = new Set<GraphQLNamedType>(rootTypes(schema));
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (fieldConfig: GraphQLFieldConfig<unknown, ViewerContext>, _fieldName, typeName) => {
      const parent = schema.getType(typeName);
      const required =
        hasDirective(schema, fieldConfig, 'auth') ||
        hasDirective(schema, getNamedType(fieldConfig.type), 'auth') ||
        (parent != null && roots.has(parent) && hasDirective(schema, parent, 'auth'));
      if (!required) return fieldConfig;
      const resolve = fieldConfig.resolve ?? defaultFieldResolver;
      const { subscribe } = fieldConfig;
      return {
        ...fieldConfig,
        resolve: (source, args, context: ViewerContext, info) => {
          if (!context.viewer) throw new Unauthenticated();
          return resolve(source, args, context, info);
        },
        // A subscription field's `subscribe` runs when the operation starts, before any `resolve`:
        // guarding only `resolve` would open the event stream first and refuse each event later.
        ...(subscribe
          ? {
              subscribe: (source: unknown, args: Record<string, unknown>, context: ViewerContext, info: Parameters<typeof subscribe>[3]) => {
                if (!context.viewer) throw new Unauthenticated();
                return subscribe(source, args, context, info);
              },
            }
          : {}),
      };
    },
  });
}
