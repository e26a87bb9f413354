import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { createDatabase, postgresStore } from "../../src/stores/postgres/index.js";

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
});
