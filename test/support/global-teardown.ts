import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const embedded = globalThis.__embeddedPostgres;
  if (!embedded) return;
  await embedded.db.stop();
  rmSync(embedded.dir, { recursive: true, force: true });
}
