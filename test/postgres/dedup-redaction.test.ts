import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeReading } from "../../src/testing/index.js";
import { appendTo, OpenBatch, type PgFixture, pgFixture } from "./helpers.js";

// A duplicate is per device (migration 007): payloads without deviceId hash alike across devices.
describe("de-duplication does not merge readings of different devices", () => {
  let fx: PgFixture;
  beforeAll(async () => {
    fx = await pgFixture();
  });
  afterAll(async () => {
    await fx?.dispose();
  });

  it("stores the same payload once per device when the payload carries no deviceId", async () => {
    const payload = { timestamp: 1_700_000_000, kwh: 15.7 };
    const a = makeReading("veep/factory1/line2/SENSOR_001/data", payload);
    const b = makeReading("veep/factory1/line2/SENSOR_002/data", payload);
    expect(a.deviceId).not.toBe(b.deviceId);
    const batch = new OpenBatch();
    const result = await appendTo(fx.store, batch, [a, b]);
    expect(result.duplicates, "a reading of another device is not a redelivery").toHaveLength(0);
    const { rows } = await fx.sql.query<{ device_id: string }>(
      "SELECT device_id FROM messages ORDER BY device_id",
    );
    expect(rows.map((r) => r.device_id)).toEqual(["SENSOR_001", "SENSOR_002"]);
  });
});

// An unparsable URL whose password holds a raw `@` must not leak the password's tail.
describe("passwords never appear in option errors", () => {
  it("redacts the whole password of an unparsable URL whose password contains '@'", async () => {
    const { redactConnectionString } = await import("../../src/stores/postgres/index.js");
    const redacted = redactConnectionString("postgres://bridge:secret@tail@db:notaport/veep");
    expect(redacted).not.toContain("tail");
  });
});
