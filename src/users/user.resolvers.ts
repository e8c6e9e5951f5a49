import type { Resolvers } from '../graphql/generated/resolvers-types.ts';

export const userResolvers: Resolvers = {
  Query: {
    me: (_parent, _args, { users }) => users.me(),
  },
};
