import { describe, expect, it } from "vitest";
import { merkleRootHex, type Store } from "../../src/adapter.js";
import {
  type BatchSealedEvent,
  type Bridge,
  type BridgeOptions,
  createBridge,
  InvalidOptionError,
  type RetryEvent,
} from "../../src/index.js";
import { memorySource, memoryStore } from "../../src/memory.js";
import { expectBatchInvariant, manualClock, seedPayload, waitFor } from "../../src/testing/index.js";
import { verifyInclusion } from "../../src/verify.js";

const topic = (device: string): string => `veep/factory1/line2/${device}/data`;

function publishReadings(
  source: ReturnType<typeof memorySource>,
  count: number,
  device = "SENSOR_001",
  from = 0,
) {
  for (let i = from; i < from + count; i++) source.publish(topic(device), seedPayload(device, i));
}

function collectSealed(bridge: Bridge): BatchSealedEvent[] {
  const sealed: BatchSealedEvent[] = [];
  bridge.on("batch:sealed", (event) => sealed.push(event));
  return sealed;
}

describe("createBridge options", () => {
  const base = (): BridgeOptions => ({ source: memorySource(), store: memoryStore() });

  it.each([
    ["batch.maxMessages", { batch: { maxMessages: 0 } }],
    ["batch.maxAgeMs", { batch: { maxAgeMs: -1 } }],
    ["batch.maxBytes", { batch: { maxBytes: 1.5 } }],
    ["writeBuffer.maxMessages", { writeBuffer: { maxMessages: Number.NaN } }],
    ["writeBuffer.capacity", { writeBuffer: { maxMessages: 50, capacity: 10 } }],
    ["retry.maxDelayMs", { retry: { initialDelayMs: 500, maxDelayMs: 100 } }],
    ["retry.initialDelayMs", { retry: { initialDelayMs: 0.5 } }],
    ["retry.maxDelayMs", { retry: { maxDelayMs: 2 ** 31 } }],
    ["topic", { topic: "veep/{tenant}/{device}/data" }],
    ["maxPayloadBytes", { maxPayloadBytes: 0 }],
  ] as const)("names %s when it is invalid", (option, patch) => {
    const attempt = () => createBridge({ ...base(), ...patch } as BridgeOptions);
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(`\`${option}\``);
  });

  it("names memorySource's session when it is not another memory source's", () => {
    const attempt = () => memorySource({ session: {} as never });
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow("`session`");
  });

  it("names source and store when they are missing", () => {
    expect(() => createBridge({ store: memoryStore() } as unknown as BridgeOptions)).toThrow("`source`");
    expect(() => createBridge({ source: memorySource() } as unknown as BridgeOptions)).toThrow("`store`");
  });
});

describe("Bridge", () => {
  it("stores every message, acknowledges only after commit and seals on flush()", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store });
    const sealed = collectSealed(bridge);
    const started: string[] = [];
    bridge.on("started", () => started.push("started"));
    await bridge.start();
    publishReadings(source, 45);
    await source.whenAllAcknowledged();
    expect(store.data.messages.size).toBe(45);
    const event = await bridge.flush();
    expect(event?.messageCount).toBe(45);
    expect(sealed).toHaveLength(1);
    const leaves = await store.getBatchLeaves(event!.batchId);
    expect(event!.batchHash).toBe(merkleRootHex(leaves.map((l) => l.messageHash)));
    expect((await store.getBatch(event!.batchId))?.status).toBe("complete");
    expect(started).toEqual(["started"]);
    await bridge.stop();
  });

  it("flush() returns under steady traffic, having stored what arrived before the call", async () => {
    const source = memorySource();
    const base = memoryStore();
    let next = 0;
    let traffic = true;
    // Every commit brings more readings, so something always waits behind the commit in progress.
    const store: Store = {
      ...base,
      async append(request) {
        if (traffic) {
          publishReadings(source, 3, "SENSOR_001", next);
          next += 3;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        return base.append(request);
      },
    };
    const bridge = createBridge({ source, store, writeBuffer: { maxMessages: 5, maxDelayMs: 1 } });
    await bridge.start();
    publishReadings(source, 20, "SENSOR_001", 1_000_000);
    await waitFor(() => bridge.stats().received >= 20, "20 readings received");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), 2000);
    });
    const outcome = await Promise.race([bridge.flush().then(() => "flushed" as const), timeout]);
    clearTimeout(timer);
    traffic = false;
    expect(outcome).toBe("flushed");
    const early = [...base.data.messages.values()].filter(
      (m) => (m.reading.payload.timestamp as number) >= 1_696_156_800 + 1_000_000,
    );
    expect(early, "the readings that arrived before flush()").toHaveLength(20);
    await bridge.stop();
  });

  it("never lets a batch exceed maxMessages and seals it when full", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({
      source,
      store,
      batch: { maxMessages: 10 },
      writeBuffer: { maxMessages: 7 },
    });
    const sealed = collectSealed(bridge);
    await bridge.start();
    publishReadings(source, 25);
    await source.whenAllAcknowledged();
    await waitFor(() => sealed.length >= 2, "two sealed batches");
    expect(sealed.map((s) => s.messageCount)).toEqual([10, 10]);
    expect(sealed.every((s) => s.reason === "maxMessages")).toBe(true);
    expect(bridge.stats().openBatchSize).toBe(5);
    for (const s of sealed) await expectBatchInvariant(store, s.batchId);
    await bridge.stop();
  });

  it("seals when maxAgeMs elapses after the batch's first message", async () => {
    const clock = manualClock();
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store, clock, batch: { maxAgeMs: 60_000 } });
    const sealed = collectSealed(bridge);
    await bridge.start();
    publishReadings(source, 3);
    await waitFor(() => bridge.stats().received === 3, "3 received");
    await clock.advance(10); // the write buffer's delay
    await source.whenAllAcknowledged();
    await clock.advance(59_000);
    expect(sealed).toHaveLength(0);
    await clock.advance(2_000);
    expect(sealed.map((s) => [s.reason, s.messageCount])).toEqual([["maxAge", 3]]);
    await bridge.stop();
  });

  it("seals when the custom predicate says so", async () => {
    const source = memorySource();
    const bridge = createBridge({
      source,
      store: memoryStore(),
      batch: { shouldSeal: (state) => state.messageCount >= 4 },
      writeBuffer: { maxMessages: 2 },
    });
    const sealed = collectSealed(bridge);
    await bridge.start();
    publishReadings(source, 8);
    await source.whenAllAcknowledged();
    await waitFor(() => sealed.length === 2, "two predicate-sealed batches");
    expect(sealed.map((s) => [s.reason, s.messageCount])).toEqual([
      ["predicate", 4],
      ["predicate", 4],
    ]);
    await bridge.stop();
  });

  it("rejects bad input with its reason, records it and acknowledges it, storing its neighbours", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store });
    const rejected: string[] = [];
    bridge.on("rejected", (r) => rejected.push(r.reason));
    await bridge.start();
    source.publish(topic("SENSOR_001"), seedPayload("SENSOR_001", 1));
    source.publish(topic("SENSOR_001"), "[1,2]");
    source.publish(topic("SENSOR_001"), '{"deviceId":"SENSOR_001","v":9007199254740993}');
    source.publish(topic("SENSOR_001"), seedPayload("SENSOR_002", 2));
    source.publish("other/topic", seedPayload("SENSOR_001", 3));
    source.publish(topic("SENSOR_001"), seedPayload("SENSOR_001", 4));
    await source.whenAllAcknowledged();
    expect(rejected).toEqual(["not_an_object", "unsafe_integer", "device_mismatch", "topic_mismatch"]);
    expect(store.data.messages.size).toBe(2);
    expect(store.data.deadLetters.map((d) => d.reason)).toEqual(rejected);
    expect(bridge.stats()).toMatchObject({ received: 6, stored: 2, rejected: 4 });
    await bridge.stop();
  });

  it("recognises redelivered duplicates, acknowledges them and stores them once", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store });
    await bridge.start();
    publishReadings(source, 10);
    publishReadings(source, 10);
    await source.whenAllAcknowledged();
    expect(store.data.messages.size).toBe(10);
    expect(bridge.stats()).toMatchObject({ stored: 10, duplicates: 10 });
    await bridge.stop();
  });

  it("retries a failed append with backoff, holding acknowledgements, and loses nothing", async () => {
    const source = memorySource();
    const store = memoryStore();
    store.failNext(3, new Error("connection terminated"));
    const bridge = createBridge({ source, store, retry: { initialDelayMs: 10, maxDelayMs: 40 } });
    const retries: RetryEvent[] = [];
    const errors: string[] = [];
    bridge.on("retry", (r) => retries.push(r));
    bridge.on("error", (e) => errors.push(e.code));
    await bridge.start();
    publishReadings(source, 5);
    await waitFor(() => retries.length >= 1, "a retry");
    expect(source.session.unacknowledged).toBe(5);
    await source.whenAllAcknowledged();
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(retries.every((r) => r.operation === "append")).toBe(true);
    expect(errors).toEqual(["STORE_ERROR", "STORE_ERROR", "STORE_ERROR"]);
    expect(store.data.messages.size).toBe(5);
    await bridge.stop();
  });

  it("pauses the source when the write buffer is full and resumes it on drain", async () => {
    const source = memorySource({ maxInFlight: 1000 });
    const store = memoryStore();
    store.failNext(2);
    const bridge = createBridge({
      source,
      store,
      writeBuffer: { maxMessages: 5, capacity: 20 },
      retry: { initialDelayMs: 30, maxDelayMs: 30 },
    });
    const events: string[] = [];
    bridge.on("backpressure", () => events.push("backpressure"));
    bridge.on("drain", () => events.push("drain"));
    await bridge.start();
    publishReadings(source, 200);
    await source.whenAllAcknowledged();
    expect(events.slice(0, 2)).toEqual(["backpressure", "drain"]);
    expect(store.data.messages.size).toBe(200);
    await bridge.stop();
  });

  it("resumes the open batch after a restart and continues it", async () => {
    const data = memoryStore().data;
    const session = memorySource().session;
    const sourceA = memorySource({ session });
    const bridgeA = createBridge({ source: sourceA, store: memoryStore({ data }) });
    await bridgeA.start();
    publishReadings(sourceA, 12);
    await sourceA.whenAllAcknowledged();
    const openId = bridgeA.stats().openBatchId;
    await bridgeA.stop();
    expect(data.batches.get(openId!)?.status).toBe("pending");

    const sourceB = memorySource({ session });
    const bridgeB = createBridge({ source: sourceB, store: memoryStore({ data }) });
    const opened: Array<{ batchId: string; resumed: boolean }> = [];
    bridgeB.on("batch:opened", (e) => opened.push({ batchId: e.batchId, resumed: e.resumed }));
    await bridgeB.start();
    expect(opened).toEqual([{ batchId: openId, resumed: true }]);
    publishReadings(sourceB, 8, "SENSOR_002");
    await sourceB.whenAllAcknowledged();
    const sealed = await bridgeB.flush();
    expect(sealed?.batchId).toBe(openId);
    expect(sealed?.messageCount).toBe(20);
    await expectBatchInvariant(memoryStore({ data }), openId!);
    await bridgeB.stop();
  });

  it("marks a tampered open batch failed on start and opens a new one", async () => {
    const data = memoryStore().data;
    const source = memorySource();
    const bridge = createBridge({ source, store: memoryStore({ data }) });
    await bridge.start();
    publishReadings(source, 4);
    await source.whenAllAcknowledged();
    const batchId = bridge.stats().openBatchId!;
    await bridge.stop();
    const batch = data.batches.get(batchId)!;
    data.batches.set(batchId, { ...batch, batchHash: "ab".repeat(32) });

    const next = createBridge({ source: memorySource(), store: memoryStore({ data }) });
    const failed: string[] = [];
    const errors: string[] = [];
    next.on("batch:failed", (e) => failed.push(e.batchId));
    next.on("error", (e) => errors.push(e.code));
    await next.start();
    expect(failed).toEqual([batchId]);
    expect(errors).toEqual(["BATCH_INTEGRITY"]);
    expect(data.batches.get(batchId)?.status).toBe("failed");
    expect(next.stats().openBatchId).toBeUndefined();
    await next.stop();
  });

  it("stop() is idempotent and stop({ drain: false }) leaves buffered messages for redelivery", async () => {
    const source = memorySource();
    const store = memoryStore();
    store.failNext(1000);
    const bridge = createBridge({ source, store, retry: { initialDelayMs: 20, maxDelayMs: 20 } });
    await bridge.start();
    publishReadings(source, 5);
    await waitFor(() => bridge.stats().received === 5, "5 received");
    const first = bridge.stop({ drain: false });
    expect(bridge.stop()).toBe(first);
    await first;
    expect(bridge.state).toBe("stopped");
    expect(source.session.unacknowledged).toBe(5);
    expect(store.data.messages.size).toBe(0);
  });

  it("gives up draining after timeoutMs when the store stays down, leaving messages unacknowledged", async () => {
    const source = memorySource();
    const store = memoryStore();
    store.failNext(1000);
    const bridge = createBridge({ source, store, retry: { initialDelayMs: 10, maxDelayMs: 10 } });
    await bridge.start();
    publishReadings(source, 4);
    await waitFor(() => bridge.stats().received === 4, "4 received");
    const started = Date.now();
    await bridge.stop({ timeoutMs: 150 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(bridge.state).toBe("stopped");
    expect(source.session.unacknowledged).toBe(4);
  });

  it("drains on stop and can seal the open batch", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({
      source,
      store,
      writeBuffer: { maxMessages: 1000, maxDelayMs: 10_000, capacity: 1000 },
    });
    const sealed = collectSealed(bridge);
    await bridge.start();
    publishReadings(source, 30);
    await waitFor(() => bridge.stats().received === 30, "30 received");
    expect(store.data.messages.size).toBe(0);
    await bridge.stop({ seal: true });
    expect(store.data.messages.size).toBe(30);
    expect(sealed.map((s) => [s.reason, s.messageCount])).toEqual([["stop", 30]]);
    expect(source.session.unacknowledged).toBe(0);
  });

  it("supports await using (Symbol.asyncDispose)", async () => {
    const source = memorySource();
    const store = memoryStore();
    {
      await using bridge = createBridge({ source, store });
      await bridge.start();
      publishReadings(source, 3);
      await waitFor(() => bridge.stats().received === 3, "3 received");
    }
    expect(store.data.messages.size).toBe(3);
  });

  it("gives proofs that verify for every stored message", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store, batch: { maxMessages: 16 } });
    await bridge.start();
    publishReadings(source, 40);
    await source.whenAllAcknowledged();
    await bridge.flush();
    for (const id of store.data.messages.keys()) {
      const proof = await store.getProof(id);
      expect(verifyInclusion(proof!)).toBe(true);
    }
    await bridge.stop();
  });

  it("refuses flush() before start and start() after stop", async () => {
    const bridge = createBridge({ source: memorySource(), store: memoryStore() });
    await expect(bridge.flush()).rejects.toThrow("running");
    await bridge.start();
    await bridge.stop();
    await expect(bridge.start()).rejects.toThrow("stopped");
  });
});
