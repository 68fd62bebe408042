import { CompiledQuery, Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { Database } from './schema';
import type { Tx } from './tx';

type Table = keyof Database;
type AnyDb = Kysely<Record<string, Record<string, unknown>>>;

/**
 * Building and compiling a Kysely query costs more than SQLite takes to run a small insert, and
 * alert ingestion runs several queries per alert. Inserts, updates by id and lookups by equal
 * columns have a fixed SQL text per (dialect, statement, table, columns), so it is compiled
 * once and reused with new parameters, which Kysely binds in column order.
 *
 * A table has one or two column sets in practice, so each (dialect, statement, table) keeps a
 * short list compared column by column: no key strings are built on the hot path.
 */
interface Shape {
  columns: string[];
  sql: string;
}
const shapes = new Map<string, Shape[]>();

function sqlFor(kind: string, columns: string[], compile: () => CompiledQuery): string {
  let list = shapes.get(kind);
  if (!list) shapes.set(kind, (list = []));
  for (const shape of list) {
    if (sameColumns(shape.columns, columns)) return shape.sql;
  }
  const sql = compile().sql;
  list.push({ columns, sql });
  return sql;
}

function sameColumns(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The columns Kysely would write (it leaves out undefined values) and their values, in order. */
function split(row: object): { columns: string[]; values: unknown[] } {
  const columns: string[] = [];
  const values: unknown[] = [];
  // Keys, not entries: one array fewer per row, and every alert writes several rows.
  for (const column of Object.keys(row)) {
    const value = (row as Record<string, unknown>)[column];
    if (value === undefined) continue;
    columns.push(column);
    values.push(value);
  }
  return { columns, values };
}

function zip(columns: string[], values: unknown[]): Record<string, unknown> {
  return Object.fromEntries(columns.map((column, i) => [column, values[i]]));
}

export async function insertRow<T extends Table>(tx: Tx, table: T, row: Insertable<Database[T]>): Promise<void> {
  const { columns, values } = split(row);
  const sql = sqlFor(`${tx.dialect}:insert:${table}`, columns, () => (tx.db as unknown as AnyDb).insertInto(table).values(zip(columns, values)).compile());
  await tx.db.executeQuery(CompiledQuery.raw(sql, values));
}

/** Rows per multi-row insert are powers of two up to this, so few SQL texts are compiled. */
const MAX_ROWS_PER_INSERT = 64;

/** Inserts rows with as few statements as possible: consecutive rows of one column set share one. */
export async function insertRows<T extends Table>(tx: Tx, table: T, rows: readonly Insertable<Database[T]>[]): Promise<void> {
  const parts = rows.map(split);
  let start = 0;
  while (start < parts.length) {
    const { columns } = parts[start];
    let end = start + 1;
    while (end < parts.length && end - start < MAX_ROWS_PER_INSERT && sameColumns(parts[end].columns, columns)) end += 1;
    let count = MAX_ROWS_PER_INSERT;
    while (count > end - start) count /= 2;
    const chunk = parts.slice(start, start + count);
    const sql = sqlFor(`${tx.dialect}:insert${count}:${table}`, columns, () =>
      (tx.db as unknown as AnyDb)
        .insertInto(table)
        .values(chunk.map((part) => zip(columns, part.values)))
        .compile(),
    );
    await tx.db.executeQuery(
      CompiledQuery.raw(
        sql,
        chunk.flatMap((part) => part.values),
      ),
    );
    start += count;
    // A batch's deferred rows run to thousands: the loop is shared between chunks.
    await tx.pace();
  }
}

export async function updateRowById<T extends Table>(tx: Tx, table: T, id: string, changes: Updateable<Database[T]>): Promise<void> {
  const { columns, values } = split(changes);
  if (columns.length === 0) return;
  const sql = sqlFor(`${tx.dialect}:update:${table}`, columns, () =>
    (tx.db as unknown as AnyDb)
      .updateTable(table as string)
      .set(zip(columns, values))
      .where('id', '=', id)
      .compile(),
  );
  values.push(id);
  await tx.db.executeQuery(CompiledQuery.raw(sql, values));
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
  const { columns, values } = split(where);
  for (let i = 0; i < values.length; i++) {
    // `= NULL` matches nothing and an array would compile to a list: both are caller bugs.
    if (values[i] === null || typeof values[i] === 'object') throw new Error(`selectWhereEqual: ${columns[i]} needs a scalar value`);
  }
  const lock = options.forUpdate === true && tx.dialect === 'postgres';
  const sql = sqlFor(`${tx.dialect}:select${lock ? ':lock' : ''}:${table}`, columns, () => {
    let query = (tx.db as unknown as AnyDb).selectFrom(table as string).selectAll();
    for (let i = 0; i < columns.length; i++) query = query.where(columns[i], '=', values[i]);
    return (lock ? query.forUpdate() : query).compile();
  });
  const result = await tx.db.executeQuery<Selectable<Database[T]>>(CompiledQuery.raw(sql, values));
  return result.rows;
}
