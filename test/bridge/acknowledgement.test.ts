import { describe, expect, it } from "vitest";
import type { SourceMessage } from "../../src/adapter.js";
import { type Hasher, type Store, sha256Hasher } from "../../src/adapter.js";
import { createBridge, type VeepBridgeError } from "../../src/index.js";
import { memorySource, memoryStore } from "../../src/memory.js";
import { seedPayload, waitFor } from "../../src/testing/index.js";

const topic = (device: string): string => `veep/factory1/line2/${device}/data`;

function errorsOf(bridge: ReturnType<typeof createBridge>): VeepBridgeError[] {
  const errors: VeepBridgeError[] = [];
  bridge.on("error", (e) => errors.push(e));
  return errors;
}

describe("Bridge acknowledgement on every path", () => {
  it("dead-letters a message whose decoding throws (decode_failed), acknowledges it and stores its neighbours", async () => {
    // A hasher that fails for one payload only: decoding that message throws, nothing else does.
    const hasher: Hasher = {
      ...sha256Hasher,
      digest(data) {
        const text = typeof data === "string" ? data : new TextDecoder().decode(data);
        if (text.includes("boom")) throw new Error("hasher exploded");
        return sha256Hasher.digest(data);
      },
    };
    const source = memorySource();
    const store = memoryStore({ hasher });
    const bridge = createBridge({ source, store });
    await bridge.start();
    source.publish(topic("SENSOR_001"), seedPayload("SENSOR_001", 1));
    source.publish(topic("SENSOR_001"), { deviceId: "SENSOR_001", note: "boom" });
    source.publish(topic("SENSOR_001"), seedPayload("SENSOR_001", 2));
    await source.whenAllAcknowledged();
    await bridge.stop();
    expect(store.data.messages.size).toBe(2);
    expect(store.data.deadLetters.map((d) => [d.reason, d.detail])).toEqual([
      ["decode_failed", "hasher exploded"],
    ]);
    expect(source.session.unacknowledged).toBe(0);
  });

  it("acknowledges everything committed even when event listeners throw", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store, batch: { maxMessages: 5 } });
    const errors = errorsOf(bridge);
    for (const event of ["received", "stored", "rejected", "batch:opened", "batch:sealed"] as const) {
      bridge.on(event, () => {
        throw new Error(`${event} listener failed`);
      });
    }
    await bridge.start();
    for (let i = 0; i < 12; i++) source.publish(topic("SENSOR_002"), seedPayload("SENSOR_002", i));
    source.publish(topic("SENSOR_002"), "[1]");
    await source.whenAllAcknowledged();
    await bridge.stop();
    expect(store.data.messages.size).toBe(12);
    expect(store.data.deadLetters).toHaveLength(1);
    expect(errors.every((e) => e.code === "LISTENER_ERROR")).toBe(true);
    expect(new Set(errors.map((e) => e.message.match(/"([^"]+)" listener/)?.[1]))).toEqual(
      new Set(["received", "stored", "rejected", "batch:opened", "batch:sealed"]),
    );
  });

  it("acknowledges a commit whose result cannot be applied, reports it, then resynchronises and loses nothing", async () => {
    const source = memorySource();
    const base = memoryStore();
    let tamper = true;
    // A store that commits but answers with a plan for another batch once: the result handling throws.
    const store: Store = {
      ...base,
      name: "tampering",
      open: () => base.open(),
      close: () => base.close(),
      loadOpenBatch: () => base.loadOpenBatch(),
      sealBatch: (r) => base.sealBatch(r),
      failBatch: (id, reason) => base.failBatch(id, reason),
      getBatch: (id) => base.getBatch(id),
      async append(request) {
        const result = await base.append(request);
        if (!tamper || !result.plan) return result;
        tamper = false;
        return { ...result, plan: { ...result.plan, batchId: "00000000-0000-4000-8000-00000000dead" } };
      },
    };
    const bridge = createBridge({ source, store, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
    const errors = errorsOf(bridge);
    await bridge.start();
    for (let i = 0; i < 30; i++) source.publish(topic("SENSOR_003"), seedPayload("SENSOR_003", i));
    await source.whenAllAcknowledged();
    await bridge.flush();
    await bridge.stop();
    expect(errors.length).toBeGreaterThan(0);
    expect(base.data.messages.size).toBe(30);
    const [batch] = [...base.data.batches.values()].filter((b) => b.status === "complete");
    expect(batch?.messageCount).toBe(30);
    expect(source.session.unacknowledged).toBe(0);
  });

  it("recognises a copy of a waiting message in memory and acknowledges both after the first commits", async () => {
    const base = memoryStore();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const appended: number[] = [];
    const store: Store = {
      ...base,
      open: () => base.open(),
      close: () => base.close(),
      loadOpenBatch: () => base.loadOpenBatch(),
      sealBatch: (r) => base.sealBatch(r),
      failBatch: (id, reason) => base.failBatch(id, reason),
      getBatch: (id) => base.getBatch(id),
      async append(request) {
        await gate;
        appended.push(request.readings.length + request.rejections.length);
        return base.append(request);
      },
    };
    const acked: string[] = [];
    const delivered: SourceMessage[] = [];
    const payload = new TextEncoder().encode(JSON.stringify(seedPayload("SENSOR_004", 7)));
    const bad = new TextEncoder().encode("[7]");
    const copy = (name: string, bytes: Uint8Array): SourceMessage => ({
      topic: topic("SENSOR_004"),
      payload: bytes,
      receivedAt: new Date(),
      ack: () => acked.push(name),
    });
    let deliver: (m: SourceMessage) => void = () => {};
    const source = {
      name: "hand",
      async start(context: { handlers: { message(m: SourceMessage): void } }) {
        deliver = (m) => {
          delivered.push(m);
          context.handlers.message(m);
        };
      },
      pause() {},
      resume() {},
      async stop() {},
    };
    const bridge = createBridge({ source, store });
    await bridge.start();
    deliver(copy("first", payload));
    deliver(copy("bad", bad));
    deliver(copy("second", payload));
    deliver(copy("bad again", bad));
    expect(bridge.stats().buffered).toBe(2);
    expect(acked).toEqual([]);
    release();
    await waitFor(() => acked.length === 4, "four acknowledgements");
    expect(acked).toEqual(["first", "second", "bad", "bad again"]);
    expect(appended).toEqual([2]);
    expect(base.data.messages.size).toBe(1);
    expect(base.data.deadLetters).toHaveLength(1);
    expect(bridge.stats()).toMatchObject({ received: 4, stored: 1, rejected: 1, duplicates: 2 });
    // Delivered again after its commit, the bad payload is recognised by the store: still one dead letter.
    deliver(copy("bad, later", bad));
    await waitFor(() => acked.length === 5, "the later copy's acknowledgement");
    await bridge.stop();
    expect(base.data.deadLetters).toHaveLength(1);
    expect(bridge.stats()).toMatchObject({ rejected: 1, duplicates: 3 });
  });

  it("pauses the source when the buffer holds capacityBytes of payload, and resumes it at half", async () => {
    const source = memorySource({ maxInFlight: 10_000 });
    const base = memoryStore();
    let open: () => void = () => {};
    let gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const store: Store = {
      ...base,
      open: () => base.open(),
      close: () => base.close(),
      loadOpenBatch: () => base.loadOpenBatch(),
      sealBatch: (r) => base.sealBatch(r),
      failBatch: (id, reason) => base.failBatch(id, reason),
      getBatch: (id) => base.getBatch(id),
      async append(request) {
        await gate;
        return base.append(request);
      },
    };
    const payload = JSON.stringify(seedPayload("SENSOR_005", 0));
    const size = new TextEncoder().encode(payload).byteLength;
    const bridge = createBridge({
      source,
      store,
      writeBuffer: { capacity: 1000, capacityBytes: size * 50, maxMessages: 10 },
    });
    const pressure: string[] = [];
    bridge.on("backpressure", (e) => pressure.push(`paused at ${e.buffered} (${e.bufferedBytes} B)`));
    bridge.on("drain", (e) => pressure.push(`resumed at ${e.buffered}`));
    await bridge.start();
    for (let i = 0; i < 200; i++) source.publish(topic("SENSOR_005"), seedPayload("SENSOR_005", i));
    await waitFor(() => pressure.length > 0, "backpressure");
    const held = bridge.stats();
    expect(held.bufferedBytes).toBeLessThanOrEqual(size * 51);
    expect(held.buffered).toBeLessThanOrEqual(51);
    expect(pressure[0]).toMatch(/^paused at \d+/);
    open();
    gate = Promise.resolve();
    await source.whenAllAcknowledged();
    await bridge.stop();
    expect(pressure).toContain(pressure.find((p) => p.startsWith("resumed")));
    expect(base.data.messages.size).toBe(200);
    expect(bridge.stats().refused).toBe(0);
  });
});
