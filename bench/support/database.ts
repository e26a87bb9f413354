import { randomBytes } from "node:crypto";
import pg from "pg";
import { startEmbeddedPostgres } from "../../src/cli/embedded-postgres.js";
import { postgresStore } from "../../src/stores/postgres/index.js";

/** The PostgreSQL server the bench creates its databases on. */
export interface PostgresServer {
  /** Superuser URL of a maintenance database. */
  readonly adminUrl: string;
  readonly label: string;
  stop(): Promise<void>;
}

/** DATABASE_URL when set, else a throw-away embedded PostgreSQL. */
export async function postgresServer(): Promise<PostgresServer> {
  const url = process.env.DATABASE_URL;
  if (url) return { adminUrl: url, label: "DATABASE_URL", stop: async () => {} };
  const server = await startEmbeddedPostgres();
  return { adminUrl: server.url, label: "embedded-postgres", stop: () => server.stop() };
}

async function admin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `work` against a new, empty database, dropped afterwards whatever happens. */
export async function withDatabase<T>(adminUrl: string, work: (url: string) => Promise<T>): Promise<T> {
  const name = `veep_bench_${randomBytes(5).toString("hex")}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    return await work(url.toString());
  } finally {
    await admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

/** Applies the project's migrations, as the bridge does on start. */
export async function migrateDatabase(url: string): Promise<void> {
  const store = postgresStore({ connectionString: url });
  await store.open();
  await store.close();
}

/** What ended up in a scenario's database. */
export interface DatabaseCounts {
  readonly messages: number;
  readonly deadLetters: number;
  readonly distinctDeadLetters: number;
}

/** Row counts; a database without the schema yet counts as empty. */
export async function databaseCounts(client: pg.Client): Promise<DatabaseCounts> {
  const tables = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_tables WHERE tablename IN ('messages', 'dead_letters')",
  );
  if (tables.rows[0]?.n !== 2) return { messages: 0, deadLetters: 0, distinctDeadLetters: 0 };
  const { rows } = await client.query<{ m: number; d: number; u: number }>(
    `SELECT (SELECT count(*)::int FROM messages) AS m, count(*)::int AS d,
            count(DISTINCT (topic, payload))::int AS u FROM dead_letters`,
  );
  const row = rows[0]!;
  return { messages: row.m, deadLetters: row.d, distinctDeadLetters: row.u };
}

/** `SELECT count(*) FROM messages`, 0 while the table does not exist yet. */
export async function messageCount(client: pg.Client): Promise<number> {
  try {
    const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM messages");
    return rows[0]?.n ?? 0;
  } catch {
    return 0;
  }
}
