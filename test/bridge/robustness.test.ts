// Review tests: each one demonstrates a defect in the bridge core. They are expected to FAIL
// until the defect is fixed.
import { describe, expect, it } from "vitest";
import type { Source, SourceHandlers, Store } from "../../src/adapter.js";
import { createNodeHasher, verifyInclusion } from "../../src/hashing/index.js";
import { type BatchSealedEvent, type Bridge, createBridge } from "../../src/index.js";
import { type MemoryStore, memorySource, memoryStore } from "../../src/memory.js";
import { manualClock, seedPayload, waitFor } from "../../src/testing/index.js";

const topic = (device: string): string => `veep/factory1/line2/${device}/data`;
const TIMEOUT = Symbol("timeout");

async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function publish(source: ReturnType<typeof memorySource>, count: number, from = 0, device = "SENSOR_001") {
  for (let i = from; i < from + count; i++) source.publish(topic(device), seedPayload(device, i));
}

function collectSealed(bridge: Bridge): BatchSealedEvent[] {
  const sealed: BatchSealedEvent[] = [];
  bridge.on("batch:sealed", (e) => sealed.push(e));
  return sealed;
}

function batchBytes(store: MemoryStore, batchId: string): number {
  const ids = store.data.leavesByBatch.get(batchId) ?? [];
  return ids.reduce((sum, id) => sum + store.data.messages.get(id)!.reading.byteLength, 0);
}

const payloadBytes = new TextEncoder().encode(JSON.stringify(seedPayload("SENSOR_001", 0))).byteLength;

async function forceStop(bridge: Bridge, source?: Source): Promise<void> {
  await within(
    bridge.stop({ drain: false, timeoutMs: 10 }).catch(() => undefined),
    2000,
  );
  await source?.stop();
}

describe("Bridge after an ambiguous commit (reply lost after COMMIT)", () => {
  it("resynchronises the open batch when an append committed but its reply was lost, and counts those messages as stored", async () => {
    const base = memoryStore();
    let lose = 1;
    const store: Store = {
      ...base,
      async append(request) {
        const result = await base.append(request);
        if (lose-- > 0) throw new Error("connection terminated after COMMIT");
        return result;
      },
    };
    const source = memorySource();
    const bridge = createBridge({ source, store, retry: { initialDelayMs: 5, maxDelayMs: 5 } });
    bridge.on("error", () => undefined);
    await bridge.start();
    publish(source, 3, 0);
    expect(await within(source.whenAllAcknowledged(), 2000)).not.toBe(TIMEOUT);
    publish(source, 3, 100);
    const acked = await within(source.whenAllAcknowledged(), 1500);
    const stats = bridge.stats();
    await forceStop(bridge, source);
    expect(acked, "later messages are never acknowledged").not.toBe(TIMEOUT);
    expect(base.data.messages.size).toBe(6);
    expect(stats.stored).toBe(6);
  });

  it("reports a batch sealed by an append whose reply was lost as sealed, and its messages as stored", async () => {
    const base = memoryStore();
    let lose = 1;
    const store: Store = {
      ...base,
      async append(request) {
        const result = await base.append(request);
        if (lose-- > 0) throw new Error("connection terminated after COMMIT");
        return result;
      },
    };
    const source = memorySource();
    const bridge = createBridge({
      source,
      store,
      batch: { maxMessages: 3 },
      retry: { initialDelayMs: 5, maxDelayMs: 5 },
    });
    bridge.on("error", () => undefined);
    const sealed = collectSealed(bridge);
    await bridge.start();
    publish(source, 3);
    expect(await within(source.whenAllAcknowledged(), 2000)).not.toBe(TIMEOUT);
    publish(source, 2, 100);
    expect(await within(source.whenAllAcknowledged(), 2000)).not.toBe(TIMEOUT);
    const stats = bridge.stats();
    await forceStop(bridge, source);
    const [first] = [...base.data.batches.values()].filter((b) => b.status === "complete");
    expect(sealed.map((e) => [e.batchId, e.messageCount, e.batchHash])).toEqual([
      [first!.batchId, 3, first!.batchHash],
    ]);
    expect(base.data.messages.size).toBe(5);
    expect({ stored: stats.stored, duplicates: stats.duplicates, sealed: stats.sealedBatches }).toEqual({
      stored: 5,
      duplicates: 0,
      sealed: 1,
    });
  });

  it("recognises a seal that committed although its reply was lost", async () => {
    const base = memoryStore();
    let lose = 1;
    const store: Store = {
      ...base,
      async sealBatch(request) {
        const record = await base.sealBatch(request);
        if (lose-- > 0) throw new Error("connection terminated after COMMIT");
        return record;
      },
    };
    const source = memorySource();
    const bridge = createBridge({ source, store, retry: { initialDelayMs: 5, maxDelayMs: 5 } });
    bridge.on("error", () => undefined);
    await bridge.start();
    publish(source, 3);
    await source.whenAllAcknowledged();
    const flushed = bridge.flush();
    flushed.catch(() => undefined);
    const result = await within(flushed, 1000);
    await forceStop(bridge, source);
    expect(result, "flush() never settles: the seal is retried forever").not.toBe(TIMEOUT);
  });
});

describe("Bridge batch limits", () => {
  it("never lets a batch exceed batch.maxBytes", async () => {
    const source = memorySource();
    const store = memoryStore();
    const maxBytes = Math.floor(payloadBytes * 1.5);
    const bridge = createBridge({ source, store, batch: { maxBytes }, writeBuffer: { maxMessages: 1 } });
    const sealed = collectSealed(bridge);
    await bridge.start();
    publish(source, 4);
    await source.whenAllAcknowledged();
    await bridge.flush();
    await bridge.stop();
    const sizes = sealed.map((s) => batchBytes(store, s.batchId));
    expect(
      Math.max(...sizes),
      `sealed batch bytes ${sizes.join(",")} vs maxBytes ${maxBytes}`,
    ).toBeLessThanOrEqual(maxBytes);
  });

  it("keeps counting a resumed batch's bytes toward batch.maxBytes", async () => {
    const data = memoryStore().data;
    const maxBytes = Math.floor(payloadBytes * 3.5);
    const sourceA = memorySource();
    const bridgeA = createBridge({ source: sourceA, store: memoryStore({ data }), batch: { maxBytes } });
    await bridgeA.start();
    publish(sourceA, 3, 0);
    await sourceA.whenAllAcknowledged();
    await bridgeA.stop();

    const sourceB = memorySource();
    const storeB = memoryStore({ data });
    const bridgeB = createBridge({ source: sourceB, store: storeB, batch: { maxBytes } });
    const sealed = collectSealed(bridgeB);
    await bridgeB.start();
    publish(sourceB, 3, 100);
    await sourceB.whenAllAcknowledged();
    await bridgeB.flush();
    await bridgeB.stop();
    const sizes = sealed.map((s) => batchBytes(storeB, s.batchId));
    expect(
      Math.max(...sizes),
      `sealed batch bytes ${sizes.join(",")} vs maxBytes ${maxBytes}`,
    ).toBeLessThanOrEqual(maxBytes);
  });

  it("seals a resumed batch maxAgeMs after its first message, not after the restart", async () => {
    const clock = manualClock();
    const data = memoryStore().data;
    const maxAgeMs = 60_000;
    const sourceA = memorySource();
    const bridgeA = createBridge({
      source: sourceA,
      store: memoryStore({ data }),
      clock,
      batch: { maxAgeMs },
    });
    await bridgeA.start();
    publish(sourceA, 2);
    await waitFor(() => bridgeA.stats().received === 2, "2 received");
    await clock.advance(10);
    await sourceA.whenAllAcknowledged();
    await bridgeA.stop();
    await clock.advance(40_000); // down for 40 s

    const sourceB = memorySource();
    const bridgeB = createBridge({
      source: sourceB,
      store: memoryStore({ data }),
      clock,
      batch: { maxAgeMs },
    });
    const sealed = collectSealed(bridgeB);
    await bridgeB.start();
    await clock.advance(18_000); // 58 s after the first message: not yet
    expect(sealed).toHaveLength(0);
    await clock.advance(3_000); // 61 s: due, although the restarted bridge has run only 21 s
    expect(sealed.map((s) => [s.reason, s.messageCount])).toEqual([["maxAge", 2]]);
    await bridgeB.stop();
  });

  it("refuses batch.maxAgeMs above 2^31-1 ms, naming batch.maxAgeMs", () => {
    expect(() =>
      createBridge({ source: memorySource(), store: memoryStore(), batch: { maxAgeMs: 2 ** 31 } }),
    ).toThrow("`batch.maxAgeMs`");
  });

  it("refuses retry delays above 2^31-1 ms, naming the option", () => {
    expect(() =>
      createBridge({
        source: memorySource(),
        store: memoryStore(),
        retry: { initialDelayMs: 2 ** 32, maxDelayMs: 2 ** 32 },
      }),
    ).toThrow("`retry.initialDelayMs`");
    expect(() =>
      createBridge({
        source: memorySource(),
        store: memoryStore(),
        retry: { initialDelayMs: 10, maxDelayMs: 2 ** 32 },
      }),
    ).toThrow("`retry.maxDelayMs`");
  });

  it("refuses retry: null, naming retry", () => {
    expect(() =>
      createBridge({ source: memorySource(), store: memoryStore(), retry: null as unknown as undefined }),
    ).toThrow("`retry`");
  });
});

describe("Bridge stop() and retries", () => {
  it("bounds stop({ timeoutMs }) even when an append hangs", async () => {
    const base = memoryStore();
    let appending = false;
    const store: Store = {
      ...base,
      append: () => {
        appending = true;
        return new Promise(() => undefined);
      },
    };
    const source = memorySource();
    const bridge = createBridge({ source, store });
    await bridge.start();
    publish(source, 1);
    await waitFor(() => appending, "the append to hang");
    const result = await within(bridge.stop({ timeoutMs: 100 }), 1500);
    await source.stop();
    expect(result, "stop({ timeoutMs: 100 }) still pending after 1.5 s").not.toBe(TIMEOUT);
  });

  it("never writes a committed chunk again when a later chunk of the same flush is retried", async () => {
    const source = memorySource();
    const store = memoryStore();
    store.failNext(2, new Error("database down"), "sealBatch");
    const bridge = createBridge({
      source,
      store,
      // A byte limit, not a count: a batch full by count is sealed within its last append.
      batch: { maxBytes: payloadBytes * 5 + 10 },
      writeBuffer: { maxMessages: 11, maxDelayMs: 10_000, capacity: 100 },
      retry: { initialDelayMs: 1000, maxDelayMs: 1000 },
    });
    bridge.on("error", () => undefined);
    let sealRetry = false;
    bridge.on("retry", (r) => {
      if (r.operation === "seal") sealRetry = true;
    });
    await bridge.start();
    source.publish(topic("SENSOR_001"), "[1]");
    publish(source, 5, 0);
    publish(source, 5, 5);
    await waitFor(() => sealRetry, "a seal retry");
    await bridge.stop({ timeoutMs: 50 }).catch(() => undefined);
    expect(store.data.deadLetters.map((d) => d.reason)).toEqual(["not_an_object"]);
    expect(bridge.stats().duplicates).toBe(0);
  });

  it("stop({ drain: false }) neither commits nor acknowledges buffered messages", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store, writeBuffer: { maxMessages: 100, maxDelayMs: 10_000 } });
    await bridge.start();
    publish(source, 3);
    await waitFor(() => bridge.stats().received === 3, "3 received");
    await bridge.stop({ drain: false });
    expect(store.data.messages.size).toBe(0);
    expect(source.session.unacknowledged).toBe(3);
  });

  it("does not leak abort listeners across many append retries", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on("warning", onWarning);
    try {
      const source = memorySource();
      const store = memoryStore();
      store.failNext(12);
      const bridge = createBridge({ source, store, retry: { initialDelayMs: 1, maxDelayMs: 1 } });
      bridge.on("error", () => undefined);
      await bridge.start();
      publish(source, 1);
      await source.whenAllAcknowledged();
      await bridge.stop();
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).not.toContain("MaxListenersExceededWarning");
  });

  it("leaves nothing running after a failed start", async () => {
    const data = memoryStore().data;
    const sourceA = memorySource();
    const bridgeA = createBridge({ source: sourceA, store: memoryStore({ data }) });
    await bridgeA.start();
    publish(sourceA, 2);
    await sourceA.whenAllAcknowledged();
    await bridgeA.stop();

    const broken: Source = {
      name: "broken",
      start: async () => {
        throw new Error("broker unreachable");
      },
      pause: () => undefined,
      resume: () => undefined,
      stop: async () => undefined,
    };
    const clock = manualClock();
    const bridgeB = createBridge({
      source: broken,
      store: memoryStore({ data }),
      clock,
      batch: { maxAgeMs: 200 },
      retry: { initialDelayMs: 10, maxDelayMs: 10 },
    });
    const errors: string[] = [];
    bridgeB.on("error", (e) => errors.push(e.message));
    await expect(bridgeB.start()).rejects.toMatchObject({ code: "CONNECTION_ERROR" });
    await bridgeB.stop();
    expect(clock.pending, "timers left behind by a failed start").toBe(0);
    const before = errors.length;
    await clock.advance(10_000);
    expect(errors.slice(before), "errors emitted after start() failed and stop() resolved").toEqual([]);
  });
});

describe("Bridge start-up", () => {
  it("delivers messages after a seal retry during resume at start", async () => {
    const clock = manualClock();
    const data = memoryStore().data;
    const sourceA = memorySource();
    const bridgeA = createBridge({ source: sourceA, store: memoryStore({ data }), clock });
    await bridgeA.start();
    publish(sourceA, 2);
    await waitFor(() => bridgeA.stats().received === 2, "2 received");
    await clock.advance(10);
    await sourceA.whenAllAcknowledged();
    await bridgeA.stop();
    await clock.advance(120);

    const storeB = memoryStore({ data });
    storeB.failNext(1, new Error("database restarting"), "sealBatch");
    const sourceB = memorySource();
    const bridgeB = createBridge({
      source: sourceB,
      store: storeB,
      clock,
      batch: { maxAgeMs: 100 },
      retry: { initialDelayMs: 10, maxDelayMs: 10 },
    });
    bridgeB.on("error", () => undefined);
    const sealed = collectSealed(bridgeB);
    const starting = bridgeB.start();
    await waitFor(() => clock.pending > 0, "the seal retry's backoff");
    await clock.advance(20);
    await starting;
    expect(sealed).toHaveLength(1);
    publish(sourceB, 3, 100);
    await waitFor(() => bridgeB.stats().received === 3, "3 received");
    await clock.advance(10);
    const acked = await within(sourceB.whenAllAcknowledged(), 1000);
    await forceStop(bridgeB, sourceB);
    expect(acked, "messages published after start are never delivered").not.toBe(TIMEOUT);
  });
});

describe("Bridge and throwing listeners", () => {
  it("keeps a throwing received listener out of the source callback", async () => {
    let handlers: SourceHandlers | undefined;
    const capture: Source = {
      name: "capture",
      start: async (ctx) => {
        handlers = ctx.handlers;
      },
      pause: () => undefined,
      resume: () => undefined,
      stop: async () => undefined,
    };
    const bridge = createBridge({ source: capture, store: memoryStore() });
    bridge.on("received", () => {
      throw new Error("bug in host listener");
    });
    await bridge.start();
    const deliver = () =>
      handlers!.message({
        topic: topic("SENSOR_001"),
        payload: new TextEncoder().encode(JSON.stringify(seedPayload("SENSOR_001", 1))),
        receivedAt: new Date(),
        ack: () => undefined,
      });
    expect(deliver, "SourceHandlers.message must never throw back into the source").not.toThrow();
    await bridge.stop();
  });

  it("records a dead letter once even when a rejected listener throws", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store, retry: { initialDelayMs: 10, maxDelayMs: 10 } });
    bridge.on("error", () => undefined);
    bridge.on("rejected", () => {
      throw new Error("bug in host listener");
    });
    await bridge.start();
    source.publish(topic("SENSOR_001"), "[1]");
    await source.whenAllAcknowledged();
    const letters = store.data.deadLetters.length;
    await forceStop(bridge, source);
    expect(letters, "dead letters for ONE bad payload").toBe(1);
  });
});

describe("memory store and lifecycle edges", () => {
  it("gives proofs with the configured Hasher", async () => {
    const hasher = createNodeHasher("sha3-256");
    const source = memorySource();
    const store = memoryStore({ hasher });
    const bridge = createBridge({ source, store });
    await bridge.start();
    publish(source, 5);
    await source.whenAllAcknowledged();
    await bridge.flush();
    await bridge.stop();
    const [id] = store.data.messages.keys();
    const proof = await memoryStore({ data: store.data, hasher }).getProof(id!);
    expect(proof?.algorithm).toBe(hasher.algorithm);
    expect(verifyInclusion(proof!, { hasher })).toBe(true);
  });

  it("memoryStore.listDeadLetters({ limit: 0 }) returns none", async () => {
    const source = memorySource();
    const store = memoryStore();
    const bridge = createBridge({ source, store });
    await bridge.start();
    source.publish(topic("SENSOR_001"), "[1]");
    source.publish(topic("SENSOR_001"), "[2]");
    await source.whenAllAcknowledged();
    await bridge.stop();
    expect(await memoryStore({ data: store.data }).listDeadLetters({ limit: 0 })).toHaveLength(0);
  });

  it("resolves stop({ timeoutMs }) during a start that never completes", async () => {
    const hanging: Source = {
      name: "hanging",
      start: () => new Promise<void>(() => undefined),
      pause: () => undefined,
      resume: () => undefined,
      stop: async () => undefined,
    };
    const bridge = createBridge({ source: hanging, store: memoryStore() });
    void bridge.start().catch(() => undefined);
    const result = await within(bridge.stop({ timeoutMs: 100 }), 1000);
    expect(result, "stop() waits for start() with no bound").not.toBe(TIMEOUT);
  });
});
