/**
 * The bridge exactly as `veep-bridge run` builds it with its default settings, as a separate
 * process the bench starts, stops and measures. Speaks the line protocol of child-protocol.ts.
 *
 *   DATABASE_URL=… MQTT_URL=… MQTT_CLIENT_ID=… node --import tsx bench/support/bridge-child.ts
 *
 * Only those three variables reach the configuration, so a `VEEP_*` or `MQTT_*` setting of the
 * calling shell cannot change what is measured. SIGTERM: drained stop, one `final` line, exit.
 */
import { tuneHeap } from "../../src/cli/heap.js";
import { bridgeFromRunConfig } from "../../src/cli/run-bridge.js";
import { resolveRunConfig } from "../../src/cli/run-config.js";
import { emit } from "./child-protocol.js";
import { LatencyHistogram } from "./latency-histogram.js";

const env = {
  // BENCH_TARGET (readings to store, for the `done` line) is the bench's, not a configuration setting.
  DATABASE_URL: process.env.DATABASE_URL,
  MQTT_URL: process.env.MQTT_URL,
  MQTT_CLIENT_ID: process.env.MQTT_CLIENT_ID,
};
const config = await resolveRunConfig({}, env);
tuneHeap({}); // as `veep-bridge run` does (its default: the calling shell's VEEP_* cannot change it)
const bridge = bridgeFromRunConfig(config);
const latency = new LatencyHistogram();

const target = Number(process.env.BENCH_TARGET ?? Number.POSITIVE_INFINITY);
let done = false;
bridge.on("stored", (event) => {
  const committed = event.committedAt.getTime();
  for (const reading of event.readings) latency.record(committed - reading.receivedAt.getTime());
  if (!done && bridge.stats().stored >= target) {
    done = true;
    emit({ type: "done", at: committed });
  }
});
bridge.on("error", (error) => emit({ type: "error", code: error.code, message: error.message }));
bridge.on("source", (status) =>
  emit({
    type: "source",
    state: status.state,
    ...(status.detail !== undefined ? { detail: status.detail } : {}),
    ...(status.error ? { message: status.error.message } : {}),
  }),
);

emit({ type: "starting", at: Date.now() });
const cpuAtStart = process.cpuUsage();
const starting = bridge.start();

process.once("SIGTERM", () => {
  void (async () => {
    await starting.catch(() => undefined);
    await bridge.stop({ drain: true });
    emit({
      type: "final",
      stats: bridge.stats(),
      latency: latency.summary(),
      maxRssKb: process.resourceUsage().maxRSS,
      cpuMs: cpuMillis(process.cpuUsage(cpuAtStart)),
    });
    process.exit(0);
  })();
});

try {
  await starting;
} catch (error) {
  emit({ type: "fatal", message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
emit({ type: "ready", at: Date.now() });

function cpuMillis(usage: NodeJS.CpuUsage): number {
  return Math.round((usage.user + usage.system) / 1000);
}
setInterval(() => {
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  emit({ type: "progress", stats: bridge.stats(), memory: { rss, heapTotal, heapUsed, external } });
}, 1000).unref();
