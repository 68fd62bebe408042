import { CompiledQuery, Insertable, Kysely, Updateable } from 'kysely';
import type { Database } from './schema';
import type { Tx } from './transactor';

type Table = keyof Database;

/**
 * Building and compiling a Kysely query costs more than SQLite takes to run a small insert, and
 * alert ingestion writes several rows per alert. Inserts and updates by id have a fixed SQL
 * text per (dialect, table, columns), so it is compiled once and reused with new parameters,
 * which Kysely binds in column order.
 */
const compiledSql = new Map<string, string>();

function sqlFor(key: string, compile: () => CompiledQuery): string {
  let sql = compiledSql.get(key);
  if (sql === undefined) {
    sql = compile().sql;
    compiledSql.set(key, sql);
  }
  return sql;
}

/** Columns that Kysely would write: it leaves out undefined values. */
function definedEntries(row: object): [string, unknown][] {
  return Object.entries(row).filter(([, value]) => value !== undefined);
}

export async function insertRow<T extends Table>(tx: Tx, table: T, row: Insertable<Database[T]>): Promise<void> {
  const entries = definedEntries(row);
  const columns = entries.map(([column]) => column);
  const sql = sqlFor(`${tx.dialect}|insert|${table}|${columns.join(',')}`, () =>
    tx.db.insertInto(table).values(Object.fromEntries(entries) as never).compile(),
  );
  await tx.db.executeQuery(CompiledQuery.raw(sql, entries.map(([, value]) => value)));
}

export async function updateRowById<T extends Table>(tx: Tx, table: T, id: string, changes: Updateable<Database[T]>): Promise<void> {
  const entries = definedEntries(changes);
  if (entries.length === 0) return;
  const columns = entries.map(([column]) => column);
  const sql = sqlFor(`${tx.dialect}|update|${table}|${columns.join(',')}`, () =>
    (tx.db as unknown as Kysely<Record<string, { id: string }>>)
      .updateTable(table as string)
      .set(Object.fromEntries(entries))
      .where('id', '=', id)
      .compile(),
  );
  await tx.db.executeQuery(CompiledQuery.raw(sql, [...entries.map(([, value]) => value), id]));
}
