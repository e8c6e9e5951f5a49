import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import type { Resolvers } from '../graphql/generated/resolvers-types.ts';
import { encodeCursor } from './task.cursor.ts';
import type { TaskEventRecord } from './task.feed.ts';

/** Thin: read the arguments, call the service, return. Rules live in TaskService. */
export const taskResolvers: Resolvers = {
  Query: {
    task: (_parent, { id }, { tasks }) => tasks.get(id),
    // The events cursor costs a query, taken before the page is read: only when selected.
    tasks: (_parent, args, { tasks }, info) => tasks.list(args, { eventsCursor: selects(info, 'eventsCursor') }),
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
  // Task has no resolvers: services return each task as clients see it (TaskView), its owner from
  // its owner column (TaskService.present). An event's task is shared by the owner's subscribers:
  // each gets a copy.
  TaskEvent: {
    task: (event, _args, { tasks }) => event.task && tasks.present({ ...event.task }),
  },
  TaskConnection: {
    edges: (page) => page.nodes.map((node) => ({ order: page.order, node })),
    totalCount: (page) => page.totalCount(),
  },
  TaskEdge: {
    cursor: (edge) => encodeCursor(edge.order, edge.node),
  },
};

/** Whether the field being resolved selects `name` on its result (through fragments too). */
function selects(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const search = (set: SelectionSetNode | undefined): boolean =>
    (set?.selections ?? []).some((selection) => {
      if (selection.kind === Kind.FIELD) return selection.name.value === name;
      if (selection.kind === Kind.INLINE_FRAGMENT) return search(selection.selectionSet);
      const fragment = info.fragments[selection.name.value];
      if (!fragment || seen.has(fragment.name.value)) return false;
      seen.add(fragment.name.value);
      return search(fragment.selectionSet);
    });
  return info.fieldNodes.some((node) => search(node.selectionSet));
}
