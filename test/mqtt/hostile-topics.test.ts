import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBridge } from "../../src/index.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { waitFor } from "../../src/testing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { expectHostileOutcome, hostileCases, interleave, neighbours } from "../support/hostile-input.js";
import type { TestBroker } from "./support/brokers.js";
import { publisher, uniqueId } from "./support/collect.js";
import { countMessages } from "./support/pipeline.js";
import { brokerTargets, forgetSession } from "./support/targets.js";

const NEIGHBOURS = 40;

describe.each(brokerTargets())("hostile topics and payloads over MQTT on $name", (target) => {
  let broker: TestBroker;
  let db: TestDatabase;
  beforeAll(async () => {
    broker = await target.start();
    db = await createTestDatabase("vbhostile_mqtt");
  });
  afterAll(async () => {
    await db?.drop();
    await broker?.stop();
  });

  it("stores every topic segment and payload as published, or dead-letters it with its reason and bytes", async () => {
    const prefix = uniqueId("vbh");
    const clientId = uniqueId("vb-hostile");
    const cases = hostileCases(prefix).filter((c) => c.overMqtt);
    const bridge = createBridge({
      source: mqttSource({ url: broker.url, clientId, topic: `${prefix}/#`, reconnect: { minDelayMs: 100 } }),
      store: postgresStore({ connectionString: db.url }),
      topic: `${prefix}/{tenant}/{site}/{device}/data`,
    });
    const problems: unknown[] = [];
    bridge.on("error", (e) => problems.push(e));
    bridge.on("retry", (e) => problems.push(e.error));
    await bridge.start();
    const pub = await publisher(broker.url);
    for (const m of interleave(cases, neighbours(prefix, NEIGHBOURS))) {
      await pub.publishAsync(m.topic, Buffer.from(m.payload), { qos: 1 });
    }
    await pub.endAsync();
    const storedCount = cases.filter((c) => c.outcome.stored).length;
    await waitFor(
      () => bridge.stats().stored + bridge.stats().rejected >= cases.length + NEIGHBOURS,
      "every message stored or dead-lettered",
      20_000,
    );
    await bridge.stop({ seal: true });
    await forgetSession(broker.url, clientId);
    expect(problems).toEqual([]);
    expect(bridge.stats()).toMatchObject({
      stored: NEIGHBOURS + storedCount,
      rejected: cases.length - storedCount,
    });
    expect(await countMessages(db.url)).toBe(NEIGHBOURS + storedCount);
    await expectHostileOutcome(db.url, cases, NEIGHBOURS);
  }, 60_000);
});
