/**
 * Testing your own application with the memory adapters: no broker, no database, same bridge.
 * The "host app" here is a tiny alerting module that watches sealed batches and rejected payloads.
 *
 * The imports are the package's own names; inside this repository they resolve to the sources
 * (tsconfig `paths`, vitest `resolve.alias`).
 */

import { type Bridge, createBridge } from "veep-bridge";
import { type MemorySource, type MemoryStore, memorySource, memoryStore } from "veep-bridge/memory";
import { verifyInclusion } from "veep-bridge/verify";
import { describe, expect, it } from "vitest";

/** The host application's code under test: collects what operators should hear about. */
function watchBridge(bridge: Bridge): { alerts: string[]; sealed: string[] } {
  const alerts: string[] = [];
  const sealed: string[] = [];
  bridge.on("rejected", (r) => alerts.push(`device sent a bad payload on ${r.topic}: ${r.reason}`));
  bridge.on("batch:sealed", (b) => sealed.push(b.batchHash));
  return { alerts, sealed };
}

function setup(): { source: MemorySource; store: MemoryStore; bridge: Bridge } {
  const source = memorySource();
  const store = memoryStore();
  const bridge = createBridge({ source, store, batch: { maxMessages: 3 } });
  return { source, store, bridge };
}

const topic = "veep/factory1/line2/SENSOR_001/data";

describe("host app with the memory adapters", () => {
  it("alerts on bad payloads and records sealed batch roots", async () => {
    const { source, store, bridge } = setup();
    const { alerts, sealed } = watchBridge(bridge);
    await bridge.start();
    for (let i = 0; i < 3; i++)
      source.publish(topic, { deviceId: "SENSOR_001", timestamp: 1_696_156_800 + i, kwh: 15 + i });
    source.publish(topic, "[1,2,3]");
    await source.whenAllAcknowledged();
    await bridge.stop();

    expect(alerts).toEqual([`device sent a bad payload on ${topic}: not_an_object`]);
    expect(sealed).toHaveLength(1);
    expect(store.data.messages.size).toBe(3);
    expect(store.data.deadLetters).toHaveLength(1);
  });

  it("stores a redelivered reading once, and every stored reading has a proof", async () => {
    const { source, store, bridge } = setup();
    await bridge.start();
    const reading = { deviceId: "SENSOR_001", timestamp: 1_696_156_800, kwh: 15.7 };
    source.publish(topic, reading);
    source.publish(topic, { ...reading }); // what a broker redelivery looks like: same payload
    await source.whenAllAcknowledged();
    const batch = await bridge.flush();

    expect(bridge.stats()).toMatchObject({ stored: 1, duplicates: 1 });
    const [messageId] = store.data.messages.keys();
    const proof = await store.getProof(messageId!);
    expect(verifyInclusion(proof!, { root: batch!.batchHash, treeSize: batch!.messageCount })).toBe(true);
    await bridge.stop();
  });

  it("continues the open batch after a restart (shared session and data)", async () => {
    const first = setup();
    await first.bridge.start();
    first.source.publish(topic, { deviceId: "SENSOR_001", timestamp: 1, kwh: 1 });
    await first.source.whenAllAcknowledged();
    await first.bridge.stop();

    const source = memorySource({ session: first.source.session });
    const store = memoryStore({ data: first.store.data });
    source.publish(topic, { deviceId: "SENSOR_001", timestamp: 2, kwh: 2 });
    const bridge = createBridge({ source, store, batch: { maxMessages: 3 } });
    await bridge.start();
    await source.whenAllAcknowledged();
    await bridge.stop({ seal: true });

    expect(store.data.messages.size).toBe(2);
    expect([...store.data.batches.values()].map((b) => [b.status, b.messageCount])).toEqual([
      ["complete", 2],
    ]);
  });
});
