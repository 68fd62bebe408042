import { Client } from 'pg';
import { schemaPrefix } from './schema-prefix';

/** Drops the PostgreSQL schemas this run created, once no test is running any more. */
export default async function globalTeardown(): Promise<void> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const prefix = schemaPrefix().replace(/_/g, '\\_');
    const { rows } = await client.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like $1`, [`${prefix}%`]);
    for (const { nspname } of rows) await client.query(`drop schema "${nspname}" cascade`);
  } finally {
    await client.end();
  }
}
