import { describe, expect, it } from "vitest";
import { messageIdAt, messageIdTime } from "../../src/message/message-id.js";

describe("message ids: UUID version 7 carrying the reading's receivedAt", () => {
  it("puts the milliseconds in the first 48 bits, version 7 and the RFC variant, and reads them back", () => {
    const at = new Date("2026-12-06T17:44:50.529Z");
    const id = messageIdAt(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id.slice(0, 13).replace("-", "")).toBe(at.getTime().toString(16).padStart(12, "0"));
    expect(messageIdTime(id)).toBe(at.getTime());
    expect(messageIdAt(at)).not.toBe(id);
  });

  it("sorts in time order, and gives no time for another version", () => {
    const ids = [0, 1, 1000, 86_400_000].map((ms) => messageIdAt(new Date(Date.UTC(2026, 0, 1) + ms)));
    expect([...ids].sort()).toEqual(ids);
    expect(messageIdTime("5b0c6f2e-1d3a-4b8e-9c7d-2f1e0a9b8c7d")).toBeUndefined();
    expect(messageIdTime("not an id")).toBeUndefined();
  });
});
