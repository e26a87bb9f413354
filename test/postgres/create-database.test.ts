import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { StoreError } from "../../src/index.js";
import { createDatabase, postgresStore } from "../../src/stores/postgres/index.js";

function missingDatabaseUrl(): { name: string; url: string } {
  const name = `vb_missing_${randomBytes(4).toString("hex")}`;
  const url = new URL(inject("databaseUrl"));
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

describe("createDatabase", () => {
  it("creates the target database when missing, and is a no-op when it exists", async () => {
    const name = `vb_created_${randomBytes(4).toString("hex")}`;
    const url = new URL(inject("databaseUrl"));
    url.pathname = `/${name}`;
    try {
      expect(await createDatabase({ connectionString: url.toString() })).toBe(true);
      expect(await createDatabase({ connectionString: url.toString() })).toBe(false);
      const store = postgresStore({ connectionString: url.toString() });
      await store.open();
      expect(await store.getPendingBatches()).toEqual([]);
      await store.close();
    } finally {
      const admin = new pg.Client({ connectionString: inject("databaseUrl") });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });

  it("without it, open() fails with a StoreError that names the database and how to create it", async () => {
    const { name, url } = missingDatabaseUrl();
    const store = postgresStore({ connectionString: url });
    try {
      const error = await store.open().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toContain(`database "${name}" does not exist`);
      expect((error as Error).message).toContain("veep-bridge migrate --create-database");
      expect((error as Error).message).toContain("createDatabase()");
    } finally {
      await store.close();
    }
  });
});
