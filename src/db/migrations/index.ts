import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261121000000_create_task } from './Migration20261121000000_create_task.ts';
import { Migration20261202000000_task_version } from './Migration20261202000000_task_version.ts';
import { Migration20261202000000_create_idempotency_key } from './Migration20261202000000_create_idempotency_key.ts';
import { Migration20261202000000_notify_changes } from './Migration20261202000000_notify_changes.ts';
import { Migration20261215000000_task_change_log } from './Migration20261215000000_task_change_log.ts';
import { Migration20261216000000_task_usage } from './Migration20261216000000_task_usage.ts';
import { Migration20261217000000_idempotency_key_owner } from './Migration20261217000000_idempotency_key_owner.ts';
import { Migration20261218000000_open_task_indexes } from './Migration20261218000000_open_task_indexes.ts';
import { Migration20261218000001_due_order_key } from './Migration20261218000001_due_order_key.ts';

/**
 * Every migration, in order. Listed explicitly rather than discovered by glob so that the same
 * list runs under Node's type stripping, Jest and a bundle alike. `npm run db:migration:create`
 * writes a new file here; add it to this list.
 */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261121000000_create_task', class: Migration20261121000000_create_task },
  { name: 'Migration20261202000000_task_version', class: Migration20261202000000_task_version },
  { name: 'Migration20261202000000_create_idempotency_key', class: Migration20261202000000_create_idempotency_key },
  { name: 'Migration20261202000000_notify_changes', class: Migration20261202000000_notify_changes },
  { name: 'Migration20261215000000_task_change_log', class: Migration20261215000000_task_change_log },
  { name: 'Migration20261216000000_task_usage', class: Migration20261216000000_task_usage },
  { name: 'Migration20261217000000_idempotency_key_owner', class: Migration20261217000000_idempotency_key_owner },
  { name: 'Migration20261218000000_open_task_indexes', class: Migration20261218000000_open_task_indexes },
  { name: 'Migration20261218000001_due_order_key', class: Migration20261218000001_due_order_key },
];
