/**
 * Prometheus metrics of a bridge in the host application's own prom-client registry, with
 * `bridgeMetrics` from `veep-bridge/metrics` (the metric names are listed in docs/operations.md).
 * Run it: `npx tsx examples/metrics.ts` (memory adapters, prints the metrics once).
 *
 * The imports are the package's own names; inside this repository they resolve to the sources
 * (tsconfig `paths`, vitest `resolve.alias`).
 */
import { pathToFileURL } from "node:url";
import { Registry } from "prom-client";
import { createBridge } from "veep-bridge";
import { memorySource, memoryStore } from "veep-bridge/memory";
import { bridgeMetrics } from "veep-bridge/metrics";

/**
 * Runs a bridge on the memory adapters over 120 readings and one bad payload, and returns what a
 * scrape of its registry would see (Prometheus text format).
 */
export async function scrapeAfterTraffic(): Promise<string> {
  const registry = new Registry();
  const source = memorySource();
  const bridge = createBridge({ source, store: memoryStore(), batch: { maxMessages: 50 } });
  // Attach before start() so the counters see everything; `using` disposes it at the end of scope.
  using _metrics = bridgeMetrics(bridge, { registry, labels: { instance: "example" } });
  await bridge.start();
  for (let i = 0; i < 120; i++) {
    source.publish("veep/factory1/line2/SENSOR_001/data", {
      deviceId: "SENSOR_001",
      timestamp: i,
      kwh: 15 + i / 10,
    });
  }
  source.publish("veep/factory1/line2/SENSOR_001/data", "not json");
  await source.whenAllAcknowledged();
  await bridge.stop();
  return registry.metrics();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(await scrapeAfterTraffic());
}
