import { Unauthenticated } from '../errors.ts';
import type { Resolvers } from '../graphql/generated/resolvers-types.ts';

export const userResolvers: Resolvers = {
  Query: {
    // The viewer is the current user record (see UserDirectory); @auth has refused anonymous calls.
    me: (_parent, _args, { viewer }) => viewer ?? Promise.reject(new Unauthenticated()),
  },
};
