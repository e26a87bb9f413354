import { createHash } from "node:crypto";
import { canonicalize } from "json-canonicalize";
import { describe, expect, it } from "vitest";
import { merkleRootHex } from "../../src/adapter.js";
import { type BatchSealedEvent, createBridge, type RejectionReason } from "../../src/index.js";
import { memorySource, memoryStore } from "../../src/memory.js";
import { expectBatchInvariant, seedPayload, waitFor } from "../../src/testing/index.js";
import { verifyInclusion } from "../../src/verify.js";

const DEVICES = 10;
const PER_DEVICE = 1000;

type Bad = { topic: string; payload: string | Uint8Array; reason: RejectionReason };

function badInputs(device: string, n: number): Bad[] {
  const topic = `veep/factory1/line2/${device}/data`;
  return [
    { topic, payload: new Uint8Array([0x7b, 0xc3, 0x28, 0x7d, n & 0x7f]), reason: "invalid_utf8" },
    { topic, payload: `{"deviceId":"${device}","n":${n},`, reason: "invalid_json" },
    { topic, payload: " ".repeat(n / 100), reason: "invalid_json" },
    { topic, payload: `[${n}]`, reason: "not_an_object" },
    { topic, payload: `{"deviceId":"${device}","n":${n},"v":9007199254740993}`, reason: "unsafe_integer" },
    { topic, payload: `{"deviceId":"${device}","n":${n},"s":"a\\u0000b"}`, reason: "nul_character" },
    { topic, payload: `{"deviceId":"${device}","n":${n},"s":"\\ud800"}`, reason: "lone_surrogate" },
    { topic, payload: JSON.stringify({ deviceId: "SOMEONE_ELSE", n }), reason: "device_mismatch" },
    { topic: `veep/factory1/${device}/data`, payload: JSON.stringify({ n }), reason: "topic_mismatch" },
    {
      topic,
      payload: JSON.stringify({ deviceId: device, n, pad: "x".repeat(300_000) }),
      reason: "too_large",
    },
    { topic, payload: JSON.stringify({ deviceId: device, kwh: -1, n }), reason: "validation_failed" },
    {
      topic: `veep/factory1/line2/${"D".repeat(101)}/data`,
      payload: JSON.stringify({ n }),
      reason: "field_too_long",
    },
  ];
}

const validate = (payload: { kwh?: unknown }): true | string =>
  typeof payload.kwh !== "number" || payload.kwh >= 0 ? true : "kwh must not be negative";

describe("end to end on memory adapters", () => {
  it(`${DEVICES} devices × ${PER_DEVICE} messages with bad input and 5% redelivered duplicates: ` +
    "each good message stored once, every root and proof verifies, every bad one rejected with its reason", async () => {
    const source = memorySource({ maxInFlight: 200 });
    const store = memoryStore();
    const bridge = createBridge({ source, store, batch: { maxMessages: 1000 }, validate });
    const sealed: BatchSealedEvent[] = [];
    const rejected: RejectionReason[] = [];
    bridge.on("batch:sealed", (b) => sealed.push(b));
    bridge.on("rejected", (r) => rejected.push(r.reason));
    await bridge.start();

    const expectedHashes = new Set<string>();
    const expectedReasons: RejectionReason[] = [];
    let duplicatesPublished = 0;
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const history: Array<{ topic: string; payload: string }> = [];
    for (let i = 0; i < PER_DEVICE; i++) {
      for (let d = 0; d < DEVICES; d++) {
        const device = `SENSOR_${String(d + 1).padStart(3, "0")}`;
        const topic = `veep/factory1/line2/${device}/data`;
        const payload = JSON.stringify(seedPayload(device, i));
        source.publish(topic, payload);
        history.push({ topic, payload });
        if (random() < 0.05) {
          const replay = history[Math.floor(random() * history.length)]!;
          source.publish(replay.topic, replay.payload);
          duplicatesPublished++;
        }
        if (i % 100 === 0 && d === 0) {
          for (const bad of badInputs(device, i)) {
            source.publish(bad.topic, bad.payload);
            expectedReasons.push(bad.reason);
          }
        }
      }
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await source.whenAllAcknowledged();
    await bridge.flush();
    await bridge.stop();

    const { messages, deadLetters } = store.data;
    const reader = memoryStore({ data: store.data });
    for (const { payload } of history) expectedHashes.add(independentHash(payload));
    expect(expectedHashes.size).toBe(DEVICES * PER_DEVICE);
    expect(messages.size).toBe(DEVICES * PER_DEVICE);
    expect(new Set([...messages.values()].map((m) => m.messageHash))).toEqual(expectedHashes);
    expect(duplicatesPublished).toBeGreaterThan(300);
    expect(bridge.stats().duplicates).toBe(duplicatesPublished);

    expect(rejected).toEqual(expectedReasons);
    expect(deadLetters.map((d) => d.reason)).toEqual(expectedReasons);

    expect(sealed.reduce((sum, b) => sum + b.messageCount, 0)).toBe(DEVICES * PER_DEVICE);
    expect(sealed.every((b) => b.messageCount <= 1000)).toBe(true);
    for (const batch of sealed) {
      const leaves = await reader.getBatchLeaves(batch.batchId);
      expect(merkleRootHex(leaves.map((l) => l.messageHash))).toBe(batch.batchHash);
      expect(store.data.batches.get(batch.batchId)?.status).toBe("complete");
      for (const leaf of leaves) {
        const proof = await reader.getProof(leaf.messageId);
        expect(verifyInclusion(proof!, { root: batch.batchHash })).toBe(true);
      }
    }
    for (const device of store.data.devices.values()) expect(device.messageCount).toBe(PER_DEVICE);
  }, 60_000);
});

/** SHA-256 of the RFC 8785 form, computed with an independent canonicaliser. */
function independentHash(payload: string): string {
  return createHash("sha256")
    .update(canonicalize(JSON.parse(payload)))
    .digest("hex");
}

describe("end to end on memory adapters with a crash", () => {
  it("loses nothing and stores nothing twice when the bridge dies mid-stream and restarts on the same session", async () => {
    const session = memorySource().session;
    const data = memoryStore().data;
    const payloads: Array<{ topic: string; payload: string }> = [];
    for (let i = 0; i < 3000; i++) {
      const device = `SENSOR_${String((i % 10) + 1).padStart(3, "0")}`;
      payloads.push({
        topic: `veep/factory1/line2/${device}/data`,
        payload: JSON.stringify(seedPayload(device, i)),
      });
    }
    const bad = badInputs("SENSOR_001", 1);

    const first = memorySource({ session, maxInFlight: 500 });
    const crashing = createBridge({
      source: first,
      store: memoryStore({ data }),
      batch: { maxMessages: 250 },
      validate,
    });
    await crashing.start();
    for (const p of payloads.slice(0, 2000)) first.publish(p.topic, p.payload);
    for (const b of bad) first.publish(b.topic, b.payload);
    await waitFor(() => crashing.stats().stored >= 700, "700 stored before the crash");
    await crashing.stop({ drain: false });
    expect(session.unacknowledged).toBeGreaterThan(0);

    const second = memorySource({ session, maxInFlight: 500 });
    const restarted = createBridge({
      source: second,
      store: memoryStore({ data }),
      batch: { maxMessages: 250 },
      validate,
    });
    const resumed: boolean[] = [];
    restarted.on("batch:opened", (b) => resumed.push(b.resumed));
    await restarted.start();
    for (const p of payloads.slice(2000)) second.publish(p.topic, p.payload);
    await second.whenAllAcknowledged();
    await restarted.flush();
    await restarted.stop();

    const expected = new Set(payloads.map((p) => independentHash(p.payload)));
    const stored = [...data.messages.values()].map((m) => m.messageHash);
    expect(stored).toHaveLength(3000);
    expect(new Set(stored)).toEqual(expected);
    const reader = memoryStore({ data });
    for (const batch of data.batches.values()) {
      expect(batch.status).toBe("complete");
      expect(batch.messageCount).toBeLessThanOrEqual(250);
      await expectBatchInvariant(reader, batch.batchId);
    }
    const reasons = new Set(data.deadLetters.map((d) => d.reason));
    expect(reasons).toEqual(new Set(bad.map((b) => b.reason)));
  }, 60_000);
});
