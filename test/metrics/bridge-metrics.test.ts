import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createBridge } from "../../src/index.js";
import { memoryAnchor, memorySource, memoryStore } from "../../src/memory.js";
import { bridgeMetrics } from "../../src/metrics/index.js";
import { waitFor } from "../../src/testing/index.js";

const topic = "veep/factory1/line2/SENSOR_001/data";
const reading = (i: number) => ({ deviceId: "SENSOR_001", timestamp: i, kwh: i });

/** The value of one series in the exposition text, or `undefined` when the series is absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("bridgeMetrics", () => {
  it("counts anchored batches and anchoring outcomes when the bridge anchors", async () => {
    const registry = new Registry();
    const source = memorySource();
    const bridge = createBridge({
      source,
      store: memoryStore(),
      batch: { maxMessages: 5 },
      anchoring: { anchor: memoryAnchor(), intervalMs: 20 },
    });
    const metrics = bridgeMetrics(bridge, { registry });
    let confirmed = 0;
    bridge.on("anchor", (event) => {
      if (event.type === "confirmed") confirmed++;
    });
    await bridge.start();
    for (let i = 0; i < 15; i++) source.publish(topic, reading(i));
    await source.whenAllAcknowledged();
    await waitFor(() => confirmed === 3, "three anchors confirmed", 5000);
    const text = await registry.metrics();
    await bridge.stop();
    metrics.dispose();
    expect(value(text, "veep_bridge_batches_anchored_total")).toBe(3);
    expect(value(text, 'veep_bridge_anchor_transactions_total{type="sent"}')).toBe(3);
    expect(value(text, 'veep_bridge_anchor_transactions_total{type="confirmed"}')).toBe(3);
  });

  it("counts received, stored, duplicate, rejected by reason and sealed as the bridge did", async () => {
    const registry = new Registry();
    const source = memorySource();
    const bridge = createBridge({ source, store: memoryStore(), batch: { maxMessages: 4 } });
    const metrics = bridgeMetrics(bridge, { registry });
    await bridge.start();
    for (let i = 0; i < 10; i++) source.publish(topic, reading(i));
    source.publish(topic, reading(0));
    source.publish(topic, "[]");
    source.publish(topic, "not json");
    source.publish(topic, { deviceId: "SENSOR_002", timestamp: 1 });
    await source.whenAllAcknowledged();
    const text = await registry.metrics();
    const stats = bridge.stats();
    await bridge.stop();
    metrics.dispose();

    expect(value(text, "veep_bridge_readings_received_total")).toBe(14);
    expect(value(text, "veep_bridge_readings_stored_total")).toBe(10);
    expect(value(text, "veep_bridge_readings_duplicate_total")).toBe(1);
    expect(value(text, 'veep_bridge_readings_rejected_total{reason="not_an_object"}')).toBe(1);
    expect(value(text, 'veep_bridge_readings_rejected_total{reason="invalid_json"}')).toBe(1);
    expect(value(text, 'veep_bridge_readings_rejected_total{reason="device_mismatch"}')).toBe(1);
    expect(value(text, 'veep_bridge_readings_rejected_total{reason="too_large"}')).toBe(0);
    expect(value(text, 'veep_bridge_batches_sealed_total{reason="maxMessages"}')).toBe(2);
    expect(value(text, "veep_bridge_open_batch_readings")).toBe(2);
    expect(value(text, "veep_bridge_source_up")).toBe(1);
    expect(value(text, "veep_bridge_commit_duration_seconds_count")).toBeGreaterThan(0);
    expect(value(text, "veep_bridge_receipt_to_commit_seconds_count")).toBe(10);
    expect(value(text, "veep_bridge_last_commit_timestamp_seconds")).toBeGreaterThan(0);
    expect(stats).toMatchObject({ received: 14, stored: 10, duplicates: 1, rejected: 3, sealedBatches: 2 });
  });

  it("counts transport redeliveries (the source's redelivered flag)", async () => {
    const registry = new Registry();
    const first = memorySource();
    let delivered = 0;
    const handlers = { message: () => void delivered++, status: () => undefined };
    await first.start({ topicFilter: "veep/+/+/+/data", handlers });
    for (let i = 0; i < 3; i++) first.publish(topic, reading(i));
    while (delivered < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    await first.stop();

    const again = memorySource({ session: first.session });
    again.publish(topic, reading(3));
    const second = createBridge({ source: again, store: memoryStore() });
    using _ = bridgeMetrics(second, { registry });
    await second.start();
    await again.whenAllAcknowledged();
    const text = await registry.metrics();
    await second.stop();
    expect(value(text, "veep_bridge_readings_received_total")).toBe(4);
    expect(value(text, "veep_bridge_redeliveries_total")).toBe(3);
    expect(value(text, "veep_bridge_readings_stored_total")).toBe(4);
  });

  it("reports the age of the open batch, and 0 once it is sealed", async () => {
    const registry = new Registry();
    const source = memorySource();
    const bridge = createBridge({ source, store: memoryStore(), batch: { maxMessages: 100 } });
    let clock = Date.now();
    using _ = bridgeMetrics(bridge, { registry, now: () => clock });
    await bridge.start();
    expect(value(await registry.metrics(), "veep_bridge_oldest_unsealed_batch_age_seconds")).toBe(0);
    source.publish(topic, reading(1));
    await source.whenAllAcknowledged();
    const opened = bridge.stats().openBatchSize;
    clock = Date.now() + 90_000;
    const age = value(await registry.metrics(), "veep_bridge_oldest_unsealed_batch_age_seconds")!;
    expect(opened).toBe(1);
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(90 + 60);
    source.publish(topic, reading(2));
    source.pause();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(value(await registry.metrics(), "veep_bridge_buffered_readings")).toBe(bridge.stats().buffered);
    await bridge.flush();
    expect(value(await registry.metrics(), "veep_bridge_oldest_unsealed_batch_age_seconds")).toBe(0);
    expect(value(await registry.metrics(), "veep_bridge_buffered_readings")).toBe(0);
    expect(value(await registry.metrics(), 'veep_bridge_batches_sealed_total{reason="manual"}')).toBe(1);
    await bridge.stop();
  });

  it("puts constant labels and a prefix on every series", async () => {
    const registry = new Registry();
    const source = memorySource();
    const bridge = createBridge({ source, store: memoryStore() });
    using _ = bridgeMetrics(bridge, { registry, prefix: "plant_", labels: { instance: "a" } });
    await bridge.start();
    source.publish(topic, reading(1));
    source.publish(topic, "[]");
    await source.whenAllAcknowledged();
    const text = await registry.metrics();
    await bridge.stop();
    expect(value(text, 'plant_readings_stored_total{instance="a"}')).toBe(1);
    expect(value(text, 'plant_readings_rejected_total{instance="a",reason="not_an_object"}')).toBe(1);
    const series = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(series.filter((l) => !l.startsWith("plant_"))).toEqual([]);
    expect(series.filter((l) => !l.includes('instance="a"'))).toEqual([]);
  });

  it("dispose removes its listeners and its metrics; the registry can take a new one", async () => {
    const registry = new Registry();
    const bridge = createBridge({ source: memorySource(), store: memoryStore() });
    const before = bridge.listenerCount("stored");
    const metrics = bridgeMetrics(bridge, { registry });
    expect(bridge.listenerCount("stored")).toBe(before + 1);
    expect(() => bridgeMetrics(bridge, { registry })).toThrow(/already holds veep_bridge_/);
    expect(metrics.names).toContain("veep_bridge_readings_stored_total");
    metrics.dispose();
    metrics.dispose();
    expect(bridge.listenerCount("stored")).toBe(before);
    expect(bridge.eventNames()).toEqual([]);
    expect(await registry.metrics()).toBe("\n");
    bridgeMetrics(bridge, { registry }).dispose();
  });

  it("rejects labels the metrics use and bad buckets", () => {
    const bridge = createBridge({ source: memorySource(), store: memoryStore() });
    const registry = new Registry();
    expect(() => bridgeMetrics(bridge, { registry, labels: { reason: "x" } })).toThrow(/labels\.reason/);
    expect(() => bridgeMetrics(bridge, { registry, labels: { "bad-name": "x" } })).toThrow(/label name/);
    expect(() => bridgeMetrics(bridge, { registry, commitDurationBuckets: [1, 0.5] })).toThrow(/increasing/);
    expect(() => bridgeMetrics(bridge, { registry, prefix: "bad-" })).toThrow(/prefix/);
    expect(registry.getMetricsAsArray()).toEqual([]);
  });
});

describe("docs/operations.md", () => {
  it("lists exactly the metrics bridgeMetrics registers, with their types", async () => {
    const { readFile } = await import("node:fs/promises");
    const doc = await readFile(new URL("../../docs/operations.md", import.meta.url), "utf8");
    const rows = [...doc.matchAll(/^\| `(veep_bridge_[a-z_]+)`\s*\| (counter|gauge|histogram)\s*\|/gm)];
    const registry = new Registry();
    using metrics = bridgeMetrics(createBridge({ source: memorySource(), store: memoryStore() }), {
      registry,
    });
    const types = Object.fromEntries(registry.getMetricsAsArray().map((m) => [m.name, m.type]));
    expect(Object.fromEntries(rows.map((r) => [r[1], r[2]]))).toEqual(types);
    expect(rows.map((r) => r[1]).sort()).toEqual([...metrics.names].sort());
  });
});
