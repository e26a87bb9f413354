import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createBridge, type RejectedEvent, type StoredEvent } from "../../src/index.js";
import { memorySource } from "../../src/memory.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { waitFor } from "../../src/testing/index.js";
import { createTestDatabase, queryRows, type TestDatabase } from "../support/database.js";
import { expectHostileOutcome, hostileCases, interleave, neighbours } from "../support/hostile-input.js";

const NEIGHBOURS = 40;

const query = queryRows;

/** A real pool that records the text of every statement its clients send (values are not text). */
function recordingPool(url: string): { pool: pg.Pool; texts: string[] } {
  const pool = new pg.Pool({ connectionString: url });
  const texts: string[] = [];
  pool.on("connect", (client) => {
    const send = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [first] = args;
      texts.push(typeof first === "string" ? first : String((first as { text?: unknown }).text));
      return send(...args);
    };
  });
  return { pool, texts };
}

describe("hostile input through the bridge into PostgreSQL", () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });

  for (const insertMethod of ["copy", "unnest"] as const) {
    it(`stores hostile readings verbatim and dead-letters the rest, in one commit with their neighbours (${insertMethod})`, async () => {
      db = await createTestDatabase("vbhostile");
      const cases = hostileCases("veep");
      const source = memorySource({ maxInFlight: 1000 });
      const { pool, texts } = recordingPool(db.url);
      const store = postgresStore({ pool, insertMethod });
      const bridge = createBridge({ source, store, writeBuffer: { maxDelayMs: 500 } });
      const commits: StoredEvent[] = [];
      const rejected: RejectedEvent[] = [];
      const problems: unknown[] = [];
      bridge.on("stored", (e) => commits.push(e));
      bridge.on("rejected", (e) => rejected.push(e));
      bridge.on("retry", (e) => problems.push(e.error));
      bridge.on("error", (e) => problems.push(e));
      const messages = interleave(cases, neighbours("veep", NEIGHBOURS));
      for (const m of messages) source.publish(m.topic, m.payload);
      await bridge.start();
      await source.whenAllAcknowledged();
      await bridge.stop({ seal: true });
      await pool.end();

      expect(problems).toEqual([]);
      expect(
        texts.some((t) => t.startsWith(insertMethod === "copy" ? "COPY messages" : "INSERT INTO messages")),
      ).toBe(true);
      const markers = ["DROP TABLE", "O'Brien", "back\\slash", "😀", "NEIGHBOUR_", "HOSTILE", "\\N"];
      // The migrations' own SQL (files `NNN_name.sql`, which drop tables of their own) aside.
      const sent = texts.filter((t) => !/^-- \d{3}_\w+\.sql/.test(t));
      expect(sent.filter((t) => markers.some((m) => t.includes(m)))).toEqual([]);
      const storedCount = cases.filter((c) => c.outcome.stored).length;
      const refusedCount = cases.length - storedCount;
      expect(commits.map((c) => [c.stored, c.rejected])).toEqual([[NEIGHBOURS + storedCount, refusedCount]]);
      expect(bridge.stats()).toMatchObject({
        received: messages.length,
        stored: NEIGHBOURS + storedCount,
        rejected: refusedCount,
        duplicates: 0,
      });
      expect(rejected.map((r) => r.topic).sort()).toEqual(
        cases
          .filter((c) => !c.outcome.stored)
          .map((c) => c.topic)
          .sort(),
      );
      await expectHostileOutcome(db.url, cases, NEIGHBOURS);
      const check = postgresStore({ connectionString: db.url });
      await check.open();
      expect(await check.verifyAll()).toMatchObject({ ok: true, messages: NEIGHBOURS + storedCount });
      await check.close();
    });
  }

  it("dead-letters a reading PostgreSQL cannot nest deep enough (54001) and stores its neighbours", async () => {
    db = await createTestDatabase("vbhostile");
    const admin = postgresStore({ connectionString: db.url });
    await admin.open();
    await admin.close();
    await query(db.url, `ALTER DATABASE "${db.name}" SET max_stack_depth = '100kB'`);
    const source = memorySource({ maxInFlight: 1000 });
    const bridge = createBridge({
      source,
      store: postgresStore({ connectionString: db.url }),
      writeBuffer: { maxDelayMs: 500 },
    });
    const problems: unknown[] = [];
    bridge.on("retry", (e) => problems.push(e.error));
    bridge.on("error", (e) => problems.push(e));
    const around = neighbours("veep", NEIGHBOURS);
    // 999 arrays and objects: within the decoder's 1000, beyond what 100kB of stack parses.
    const deep = `{"deep":${"[".repeat(998)}${"]".repeat(998)}}`;
    const topic = "veep/factory1/line2/DEEP/data";
    for (const m of interleave([{ topic, payload: new TextEncoder().encode(deep) }], around)) {
      source.publish(m.topic, m.payload);
    }
    await bridge.start();
    try {
      await waitFor(() => source.session.unacknowledged === 0, "every message acknowledged", 10_000);
    } finally {
      await bridge.stop({ drain: false, timeoutMs: 5_000 });
    }
    expect(problems).toEqual([]);
    expect(bridge.stats()).toMatchObject({ stored: NEIGHBOURS, rejected: 1 });
    const rows = await query<{ topic: string; reason: string; detail: string; payload: Buffer }>(
      db.url,
      "SELECT topic, reason, detail, payload FROM dead_letters",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      topic,
      reason: "store_refused",
      detail: expect.stringMatching(/^SQLSTATE 54001/),
    });
    expect(rows[0]!.payload.toString("utf8")).toBe(deep);
  });
});
