import { randomBytes } from "node:crypto";
import { connectAsync } from "mqtt";
import { describe, expect, inject, it } from "vitest";
import { bridgeMetrics } from "../../examples/metrics.js";
import { createBridge, memorySource, memoryStore } from "../../src/index.js";
import { forgetSession } from "../cli/support/mqtt-session.js";
import { cleanEnv, start, TSX } from "../cli/support/process.js";
import { createTestDatabase } from "../support/database.js";

const topic = "veep/factory1/line2/SENSOR_001/data";

describe("examples/metrics.ts", () => {
  it("counts what the bridge did, by event", async () => {
    const source = memorySource();
    const bridge = createBridge({ source, store: memoryStore(), batch: { maxMessages: 4 } });
    const metrics = bridgeMetrics(bridge);
    await bridge.start();
    for (let i = 0; i < 10; i++) source.publish(topic, { deviceId: "SENSOR_001", timestamp: i, kwh: i });
    source.publish(topic, { deviceId: "SENSOR_001", timestamp: 0, kwh: 0 });
    source.publish(topic, "[]");
    await source.whenAllAcknowledged();
    const text = metrics.render();
    await bridge.stop();
    expect(text).toMatch(/^veep_messages_received_total 12$/m);
    expect(text).toMatch(/^veep_messages_stored_total 10$/m);
    expect(text).toMatch(/^veep_messages_duplicate_total 1$/m);
    expect(text).toMatch(/^veep_messages_rejected_total\{reason="not_an_object"\} 1$/m);
    expect(text).toMatch(/^veep_batches_sealed_total 2$/m);
    expect(text).toMatch(/^veep_open_batch_messages 2$/m);
    expect(text).toMatch(/^veep_commit_duration_ms_count [1-9]\d*$/m);
  });

  it("runs as a script", async () => {
    const running = start(TSX, ["examples/metrics.ts"], cleanEnv());
    const { code } = await running.exited;
    expect(code, running.stderr()).toBe(0);
    expect(running.stdout()).toMatch(/^veep_messages_stored_total 120$/m);
    expect(running.stdout()).toMatch(/^veep_messages_rejected_total\{reason="invalid_json"\} 1$/m);
  });
});

describe("examples/node-service.ts", () => {
  it("runs as a service: stores readings, serves /healthz and /metrics, drains on SIGTERM", async () => {
    const db = await createTestDatabase("vb_example");
    const tenant = `svc${randomBytes(3).toString("hex")}`;
    try {
      const service = start(
        TSX,
        ["examples/node-service.ts"],
        cleanEnv({
          DATABASE_URL: db.url,
          MQTT_URL: inject("mqttUrl"),
          MQTT_CLIENT_ID: `svc-${tenant}`,
          PORT: "0",
        }),
      );
      await service.waitForOutput(/listening on http:\/\/127\.0\.0\.1:\d+/, 30_000);
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(service.stdout())![1]!;
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const devices = await connectAsync(inject("mqttUrl"), { clientId: `pub-${tenant}` });
      for (let i = 0; i < 5; i++) {
        await devices.publishAsync(
          `veep/${tenant}/line2/SENSOR_001/data`,
          JSON.stringify({ deviceId: "SENSOR_001", timestamp: i, kwh: i }),
          { qos: 1 },
        );
      }
      await devices.endAsync();
      const deadline = Date.now() + 20_000;
      let metrics = "";
      while (!/^veep_messages_stored_total ([5-9]|\d{2,})$/m.test(metrics) && Date.now() < deadline) {
        metrics = await (await fetch(`${base}/metrics`)).text();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(metrics).toMatch(/^veep_source_up 1$/m);
      service.child.kill("SIGTERM");
      const { code } = await service.exited;
      await forgetSession(inject("mqttUrl"), `svc-${tenant}`);
      expect(code, service.stderr()).toBe(0);
      expect(service.stdout()).toMatch(/stopped/);
    } finally {
      await db.drop();
    }
  });
});
