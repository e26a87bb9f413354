import { type Bridge, type BridgeAnchoringOptions, createBridge } from "../index.js";
import { mqttSource } from "../sources/mqtt/index.js";
import { postgresStore } from "../stores/postgres/index.js";
import type { RunConfig } from "./run-config.js";

/** The bridge `veep-bridge run` runs for a resolved configuration (MQTT source → PostgreSQL store). */
export function bridgeFromRunConfig(config: RunConfig, anchoring?: BridgeAnchoringOptions): Bridge {
  return createBridge({
    source: mqttSource(config.mqtt),
    store: postgresStore({ ...config.postgres, migrate: config.migrate }),
    batch: config.batch,
    writeBuffer: config.writeBuffer,
    ...(config.topic !== undefined ? { topic: config.topic } : {}),
    ...(config.maxPayloadBytes !== undefined ? { maxPayloadBytes: config.maxPayloadBytes } : {}),
    signatures: config.signatures === "off" ? false : { onInvalid: config.signatures },
    ...(anchoring ? { anchoring } : {}),
  });
}
