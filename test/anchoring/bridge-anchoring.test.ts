import { describe, expect, it } from "vitest";
import { anchorBatches, type PreparedAnchor } from "../../src/adapter.js";
import { type AnchorEvent, createBridge, InvalidOptionError } from "../../src/index.js";
import { memoryAnchor, memorySource, memoryStore } from "../../src/memory.js";
import { waitFor } from "../../src/testing/index.js";

const topic = (n: number) => `veep/factory1/line2/SENSOR_${String(n % 5).padStart(3, "0")}/data`;

describe("createBridge({ anchoring })", () => {
  it("anchors each sealed batch after sealing and confirms it, with an anchor event per step", async () => {
    const source = memorySource();
    const store = memoryStore();
    const anchor = memoryAnchor();
    const events: AnchorEvent[] = [];
    const bridge = createBridge({
      source,
      store,
      batch: { maxMessages: 10 },
      anchoring: { anchor, intervalMs: 20 },
    });
    bridge.on("anchor", (e) => events.push(e));
    await bridge.start();
    for (let i = 0; i < 30; i++) source.publish(topic(i), { n: i, kwh: i / 10 });
    await source.whenAllAcknowledged();
    await waitFor(
      () => events.filter((e) => e.type === "confirmed").length === 3,
      "three confirmations",
      5000,
    );
    await bridge.stop();
    const reader = memoryStore({ data: store.data });
    const batches = [...store.data.batches.values()];
    expect(batches.map((b) => b.status)).toEqual(Array(3).fill("blockchain_confirmed"));
    for (const batch of batches) {
      const anchored = await reader.getAnchor(batch.batchId);
      expect(anchor.transactions.get(anchored!.signature)?.memo).toBe(
        `veep-bridge:v1:${batch.batchId}:10:${batch.batchHash}`,
      );
    }
    expect(anchor.sent).toHaveLength(3);
  });

  it("never blocks ingest: batches are stored and sealed while a send hangs", async () => {
    const source = memorySource();
    const store = memoryStore();
    const inner = memoryAnchor();
    let release: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const anchor = {
      ...inner,
      send: async (prepared: PreparedAnchor) => {
        await hanging;
        await inner.send(prepared);
      },
    };
    const bridge = createBridge({
      source,
      store,
      batch: { maxMessages: 5 },
      anchoring: { anchor, intervalMs: 20 },
    });
    await bridge.start();
    for (let i = 0; i < 25; i++) source.publish(topic(i), { n: i });
    await source.whenAllAcknowledged();
    expect(bridge.stats().sealedBatches).toBe(5);
    expect(bridge.stats().stored).toBe(25);
    release();
    await waitFor(
      () => [...store.data.batches.values()].every((b) => b.status === "blockchain_confirmed"),
      "every batch confirmed",
      5000,
    );
    await bridge.stop();
    expect(inner.sent).toHaveLength(5);
  });

  it("stops within seconds while a chain call hangs; the recorded attempt is found by the next worker", async () => {
    const source = memorySource();
    const store = memoryStore();
    const inner = memoryAnchor();
    const anchor = { ...inner, send: () => new Promise<void>(() => {}) };
    const bridge = createBridge({
      source,
      store,
      batch: { maxMessages: 2 },
      anchoring: { anchor, intervalMs: 20, leaseMs: 50 },
    });
    await bridge.start();
    for (let i = 0; i < 2; i++) source.publish(topic(i), { n: i });
    await source.whenAllAcknowledged();
    await waitFor(() => store.data.anchorAttempts.length === 1, "the attempt recorded", 5000);
    const started = Date.now();
    await bridge.stop();
    expect(Date.now() - started).toBeLessThan(8000);
    expect([...store.data.batches.values()].map((b) => b.status)).toEqual(["blockchain_pending"]);
    const next = anchorBatches(memoryStore({ data: store.data }), { anchor: inner });
    expect(await next.runOnce()).toMatchObject({ claimed: 1, inFlight: 1, sent: 0 });
    inner.expireAll();
    expect(await next.runOnce()).toMatchObject({ sent: 1 });
    expect(await next.runOnce()).toMatchObject({ confirmed: 1 });
    expect(store.data.anchorAttempts.map((a) => a.status)).toEqual(["expired", "confirmed"]);
  }, 15_000);

  it("refuses an anchor that is not one, or a store without the anchoring lifecycle", () => {
    const source = memorySource();
    expect(() => createBridge({ source, store: memoryStore(), anchoring: { anchor: {} as never } })).toThrow(
      InvalidOptionError,
    );
    const { claimAnchorWork: _c, ...plain } = memoryStore();
    expect(() =>
      createBridge({ source, store: plain as never, anchoring: { anchor: memoryAnchor() } }),
    ).toThrow(/AnchorLedger/);
  });
});
