import { CompiledQuery, Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { Database } from './schema';
import type { Tx } from './transactor';

type Table = keyof Database;

/**
 * Building and compiling a Kysely query costs more than SQLite takes to run a small insert, and
 * alert ingestion runs several queries per alert. Inserts, updates by id and lookups by equal
 * columns have a fixed SQL text per (dialect, table, columns), so it is compiled once and reused
 * with new parameters, which Kysely binds in column order.
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

/**
 * `select * from table where a = ? and b = ?`, locking the rows on PostgreSQL when `forUpdate`
 * (SQLite's BEGIN IMMEDIATE already holds the write lock for the whole transaction).
 */
export async function selectWhereEqual<T extends Table>(
  tx: Tx,
  table: T,
  where: Partial<Selectable<Database[T]>>,
  options: { forUpdate?: boolean } = {},
): Promise<Selectable<Database[T]>[]> {
  const entries = Object.entries(where);
  for (const [column, value] of entries) {
    // `= NULL` matches nothing and an array would compile to a list: both are caller bugs.
    if (value === null || value === undefined || typeof value === 'object') throw new Error(`selectWhereEqual: ${column} needs a scalar value`);
  }
  const lock = options.forUpdate === true && tx.dialect === 'postgres';
  const sql = sqlFor(`${tx.dialect}|select|${table}|${entries.map(([column]) => column).join(',')}|${lock}`, () => {
    let query = (tx.db as unknown as Kysely<Record<string, Record<string, unknown>>>).selectFrom(table as string).selectAll();
    for (const [column, value] of entries) query = query.where(column, '=', value);
    return (lock ? query.forUpdate() : query).compile();
  });
  const result = await tx.db.executeQuery<Selectable<Database[T]>>(CompiledQuery.raw(sql, entries.map(([, value]) => value)));
  return result.rows;
}
