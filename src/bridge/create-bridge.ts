import { BridgeImpl } from "./bridge.js";
import type { BridgeOptions } from "./options.js";
import type { Bridge } from "./types.js";

/**
 * Creates a bridge from a source to a store. Options are validated at once (an
 * `InvalidOptionError` names the offending option); nothing starts until {@link Bridge.start}.
 *
 * @example
 * ```ts
 * import { createBridge } from "veep-bridge";
import { memorySource, memoryStore } from "veep-bridge/memory";
 *
 * const bridge = createBridge({
 *   source: memorySource(),
 *   store: memoryStore(),
 *   batch: { maxMessages: 1000, maxAgeMs: 300_000 },
 * });
 * bridge.on("batch:sealed", (b) => console.log(b.batchId, b.batchHash, b.messageCount));
 * await bridge.start();
 * ```
 */
export function createBridge(options: BridgeOptions): Bridge {
  return new BridgeImpl(options);
}
