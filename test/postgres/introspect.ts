import type pg from "pg";

/** One column as information_schema describes it. */
export interface ColumnInfo {
  table: string;
  column: string;
  type: string;
  length: number | null;
  nullable: string;
  default: string | null;
}

/** Columns of the three original tables (and any others given), by table then position. */
export async function columns(
  sql: pg.Client,
  tables = ["batches", "devices", "messages"],
): Promise<ColumnInfo[]> {
  const { rows } = await sql.query<ColumnInfo>(
    `SELECT table_name AS table, column_name AS column, data_type AS type,
            character_maximum_length AS length, is_nullable AS nullable, column_default AS default
     FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = ANY($1)
     ORDER BY table_name, ordinal_position`,
    [tables],
  );
  return rows;
}

/** Index name → definition. */
export async function indexes(
  sql: pg.Client,
  tables = ["batches", "devices", "messages"],
): Promise<Record<string, string>> {
  const { rows } = await sql.query<{ indexname: string; indexdef: string }>(
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1) ORDER BY indexname",
    [tables],
  );
  return Object.fromEntries(rows.map((r) => [r.indexname, r.indexdef]));
}

/** `table.constraint` → definition (NOT NULL, which PostgreSQL 18 also lists here, is checked through the columns). */
export async function constraints(
  sql: pg.Client,
  tables = ["batches", "devices", "messages"],
): Promise<Record<string, string>> {
  const { rows } = await sql.query<{ name: string; def: string }>(
    `SELECT conrelid::regclass::text || '.' || conname AS name, pg_get_constraintdef(oid) AS def
     FROM pg_constraint
     WHERE connamespace = 'public'::regnamespace AND contype <> 'n' AND conrelid::regclass::text = ANY($1)
     ORDER BY 1`,
    [tables],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.def]));
}
