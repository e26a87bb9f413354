import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { createTestDatabase } from "./support/database.js";

describe("test infrastructure", () => {
  it("creates an isolated database on the suite's PostgreSQL", async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ db: string }>("select current_database() as db");
    await client.end();
    await db.drop();
    expect(rows[0]?.db).toBe(db.name);
    expect(inject("mqttUrl")).toMatch(/^mqtts?:\/\//);
  });
});
