/**
 * Throughput of the whole core pipeline (decode → hash → write buffer → append → ack → seal) on the
 * memory adapters, against a baseline in the same run: decoding alone (no bridge).
 *
 * Run: npx tsx bench/bridge-memory.ts [messages]
 */
import { createBridge } from "../src/index.js";
import { memorySource, memoryStore } from "../src/memory.js";
import { createDecoder } from "../src/message/index.js";
import { seedPayload } from "../src/testing/index.js";

const total = Number(process.argv[2] ?? 50_000);
const devices = Array.from({ length: 10 }, (_, i) => `SENSOR_${String(i + 1).padStart(3, "0")}`);
const encoder = new TextEncoder();
const messages = Array.from({ length: total }, (_, i) => {
  const device = devices[i % devices.length]!;
  return {
    topic: `veep/factory1/line2/${device}/data`,
    payload: encoder.encode(JSON.stringify(seedPayload(device, i, "bench"))),
  };
});

function baseline(): number {
  const decoder = createDecoder();
  const started = performance.now();
  for (const m of messages) decoder.decode({ ...m, receivedAt: new Date() });
  return total / ((performance.now() - started) / 1000);
}

async function throughBridge(writeBufferSize: number): Promise<{ rate: number; batches: number }> {
  const source = memorySource({ maxInFlight: Math.max(writeBufferSize * 2, 100) });
  const store = memoryStore();
  const bridge = createBridge({
    source,
    store,
    batch: { maxMessages: 1000 },
    writeBuffer: { maxMessages: writeBufferSize },
  });
  let batches = 0;
  bridge.on("batch:sealed", () => batches++);
  await bridge.start();
  const started = performance.now();
  for (const m of messages) source.publish(m.topic, m.payload);
  await source.whenAllAcknowledged();
  const rate = total / ((performance.now() - started) / 1000);
  await bridge.stop();
  if (store.data.messages.size !== total) throw new Error(`stored ${store.data.messages.size} of ${total}`);
  return { rate, batches };
}

const rows: Array<[string, number, string]> = [];
const base = baseline();
rows.push(["decode + hash only (baseline)", base, "1.00×"]);
for (const size of [20, 100, 500]) {
  const { rate, batches } = await throughBridge(size);
  rows.push([
    `bridge, write buffer ${size}, ${batches} batches sealed`,
    rate,
    `${(rate / base).toFixed(2)}×`,
  ]);
}
console.log(`\n${total} energy-meter readings, 10 devices, memory adapters\n`);
console.log("| pipeline | msg/s | vs baseline |\n|---|---:|---:|");
for (const [name, rate, ratio] of rows)
  console.log(`| ${name} | ${Math.round(rate).toLocaleString("en")} | ${ratio} |`);
