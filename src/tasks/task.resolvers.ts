import type { Resolvers } from '../graphql/generated/resolvers-types.ts';
import { encodeCursor } from './task.cursor.ts';
import { priorityName } from './task.model.ts';
import type { TaskEventRecord } from './task.feed.ts';

/** Thin: read the arguments, call the service, return. Rules live in TaskService. */
export const taskResolvers: Resolvers = {
  Query: {
    task: (_parent, { id }, { tasks }) => tasks.get(id),
    tasks: (_parent, args, { tasks }) => tasks.list(args),
  },
  Mutation: {
    createTask: (_parent, { input }, { tasks }) => tasks.create(input),
    updateTask: (_parent, { id, input }, { tasks }) => tasks.update(id, input),
    deleteTask: (_parent, { id, expectedVersion }, { tasks }) => tasks.delete(id, expectedVersion),
  },
  Subscription: {
    taskEvents: {
      subscribe: (_parent, { after }, { tasks }) => tasks.events(after),
      // Each event is already what the client gets; its task fields resolve as in a query.
      resolve: (event: TaskEventRecord) => event,
    },
  },
  Task: {
    priority: (task) => priorityName(task.priority),
    // From the task's owner column (TaskService.owner), not from who is asking.
    owner: (task, _args, { tasks }) => tasks.owner(task),
  },
  TaskConnection: {
    edges: (page) => page.nodes.map((node) => ({ order: page.order, node })),
    totalCount: (page) => page.totalCount(),
  },
  TaskEdge: {
    cursor: (edge) => encodeCursor(edge.order, edge.node),
  },
};
