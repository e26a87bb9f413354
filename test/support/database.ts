import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

/** A throw-away database on the suite's PostgreSQL server. */
export interface TestDatabase {
  /** Connection string of the new database. */
  readonly url: string;
  /** Its name. */
  readonly name: string;
  /** Drop it (terminating leftover connections). */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates a fresh, empty database so each test (file) runs isolated and in parallel. */
export async function createTestDatabase(prefix = "vb"): Promise<TestDatabase> {
  const adminUrl = inject("databaseUrl");
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`.toLowerCase();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Runs one statement on `url` over a connection of its own; resolves with its rows. */
export async function queryRows<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
