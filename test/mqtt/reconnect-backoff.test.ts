import { describe, expect, it } from "vitest";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import type { SourceStatus } from "../../src/sources/source.js";
import { waitFor } from "../../src/testing/index.js";
import { startAedes } from "./support/brokers.js";
import { uniqueId } from "./support/collect.js";

describe("mqttSource reconnect backoff", () => {
  it("doubles the wait between reconnect attempts up to reconnect.maxDelayMs while the broker is away", async () => {
    const broker = await startAedes();
    const statuses: Array<{ at: number; status: SourceStatus }> = [];
    const source = mqttSource({
      url: broker.url,
      clientId: uniqueId("vb-backoff"),
      clean: true,
      reconnect: { minDelayMs: 100, maxDelayMs: 400 },
    });
    await source.start({
      topicFilter: "vbmqtt/backoff/+/+/data",
      handlers: { message: (m) => m.ack(), status: (status) => statuses.push({ at: Date.now(), status }) },
    });
    try {
      await broker.stop();
      const attempts = () => statuses.filter((s) => s.status.state === "reconnecting");
      await waitFor(() => attempts().length >= 6, "6 reconnect attempts", 10_000);
      const times = attempts().map((s) => s.at);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      // Expected about 200, 400, 400, 400, 400 ms (the first wait is the minimum, then doubling, capped).
      expect(gaps[0]!).toBeGreaterThanOrEqual(150);
      expect(gaps[1]!).toBeGreaterThanOrEqual(300);
      for (const gap of gaps.slice(1)) expect(gap).toBeLessThan(1500);
      expect(statuses.some((s) => s.status.state === "offline")).toBe(true);
    } finally {
      await source.stop();
    }
  });
});
