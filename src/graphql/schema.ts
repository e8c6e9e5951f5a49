import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { authDirectiveTransformer } from '../auth/auth.directive.ts';
import { projectRoot } from '../config.ts';
import { taskResolvers } from '../tasks/task.resolvers.ts';
import { userResolvers } from '../users/user.resolvers.ts';
import type { Resolvers } from './generated/resolvers-types.ts';
import { DateTime } from './scalars.ts';

export const schemaDir = path.join(projectRoot, 'schema');

/** The SDL of every `schema/*.graphql` file, base.graphql first. */
export function loadTypeDefs(): string[] {
  return readdirSync(schemaDir)
    .filter((f) => f.endsWith('.graphql'))
    .sort((a, b) => (a === 'base.graphql' ? -1 : b === 'base.graphql' ? 1 : a.localeCompare(b)))
    .map((f) => readFileSync(path.join(schemaDir, f), 'utf8'));
}

const { version } = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };

const baseResolvers: Resolvers = {
  DateTime,
  Query: { serverVersion: () => version },
};

/** The executable schema: SDL + resolvers, with `@auth` applied (and deny-by-default checked). */
export function buildSchema(): GraphQLSchema {
  const schema = makeExecutableSchema({
    typeDefs: loadTypeDefs(),
    resolvers: [baseResolvers, userResolvers, taskResolvers],
    inheritResolversFromInterfaces: true,
  });
  return authDirectiveTransformer(schema);
}
