import { randomBytes } from "node:crypto";
import { connectAsync } from "mqtt";
import { describe, expect, inject, it } from "vitest";
import { scrapeAfterTraffic } from "../../examples/metrics.js";
import { forgetSession } from "../cli/support/mqtt-session.js";
import { cleanEnv, start, TSX } from "../cli/support/process.js";
import { createTestDatabase } from "../support/database.js";

describe("examples/metrics.ts", () => {
  it("scrapes the registry the bridge's metrics were put in", async () => {
    const text = await scrapeAfterTraffic();
    expect(text).toMatch(/^veep_bridge_readings_received_total\{instance="example"\} 121$/m);
    expect(text).toMatch(/^veep_bridge_readings_stored_total\{instance="example"\} 120$/m);
    expect(text).toMatch(/^veep_bridge_readings_duplicate_total\{instance="example"\} 0$/m);
    expect(text).toMatch(
      /^veep_bridge_readings_rejected_total\{instance="example",reason="invalid_json"\} 1$/m,
    );
    expect(text).toMatch(/^veep_bridge_batches_sealed_total\{instance="example",reason="maxMessages"\} 2$/m);
    expect(text).toMatch(/^veep_bridge_open_batch_readings\{instance="example"\} 20$/m);
    expect(text).toMatch(/^veep_bridge_receipt_to_commit_seconds_count\{instance="example"\} 120$/m);
  });

  it("runs as a script", async () => {
    const running = start(TSX, ["examples/metrics.ts"], cleanEnv());
    const { code } = await running.exited;
    expect(code, running.stderr()).toBe(0);
    expect(running.stdout()).toMatch(/^veep_bridge_readings_stored_total\{instance="example"\} 120$/m);
    expect(running.stdout()).toMatch(
      /^veep_bridge_readings_rejected_total\{instance="example",reason="invalid_json"\} 1$/m,
    );
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
      while (!/^veep_bridge_readings_stored_total ([5-9]|\d{2,})$/m.test(metrics) && Date.now() < deadline) {
        metrics = await (await fetch(`${base}/metrics`)).text();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(metrics).toMatch(/^veep_bridge_readings_stored_total 5$/m);
      expect(metrics).toMatch(/^veep_bridge_source_up 1$/m);
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
