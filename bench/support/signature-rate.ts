/**
 * Signature checks per second on one thread, as the bridge runs them: its `SignatureGate` on
 * decoded readings of a signed workload (canonical JSON without the signature, Ed25519 verify with
 * a cached key object), in the bench process, before the scenarios start.
 */
import { systemClock } from "../../src/batching/clock.js";
import { SignatureGate } from "../../src/bridge/signatures.js";
import { createDecoder } from "../../src/message/decode.js";
import type { Reading } from "../../src/message/types.js";
import type { Workload } from "./workload.js";

/** Checks per second over at least `minMs` of repeated checks of `sample` readings. */
export async function signatureCheckRate(workload: Workload, sample = 2000, minMs = 2000): Promise<number> {
  const decoder = createDecoder();
  const readings: Reading[] = [];
  for (let i = 0; readings.length < sample && i < workload.total; i++) {
    const { topic, payload } = workload.message(i);
    const result = decoder.decode({ topic, payload, receivedAt: new Date() });
    if (result.ok) readings.push(result.reading);
  }
  const keys = new Map(workload.deviceKeys().map((k) => [k.deviceId, k.publicKey]));
  const gate = new SignatureGate(
    { keys: async () => keys, onInvalid: "reject", refreshMs: 60_000 },
    systemClock,
  );
  await gate.load();
  const started = performance.now();
  let checked = 0;
  while (performance.now() - started < minMs) {
    const { rejections } = await gate.check(readings);
    if (rejections.length > 0) throw new Error(`signature bench: ${rejections[0]?.detail}`);
    checked += readings.length;
  }
  return checked / ((performance.now() - started) / 1000);
}
