import { spawnSync } from "node:child_process";
import { connectAsync } from "mqtt";

/**
 * `VEEP_REQUIRE_MOSQUITTO=1` (CI) turns a missing `mosquitto` binary, or an unreachable broker in
 * `MQTT_URL`, into a failure instead of skipped tests. Unset, empty or `0`: tests that need mosquitto
 * are skipped with a notice saying why.
 */
export function mosquittoRequired(): boolean {
  const value = process.env.VEEP_REQUIRE_MOSQUITTO;
  return value !== undefined && value !== "" && value !== "0";
}

let installed: boolean | undefined;

/** `true` when a `mosquitto` binary is on PATH (the answer is cached). */
export function mosquittoInstalled(): boolean {
  installed ??= spawnSync("mosquitto", ["-h"], { stdio: "ignore" }).error === undefined;
  return installed;
}

/** What is missing, for error messages and notices. */
export const MOSQUITTO_MISSING =
  "no `mosquitto` binary on PATH (install it, e.g. `apt-get install mosquitto`)";

/** Connects to the broker at `url` once (MQTT 3.1.1, clean session): `undefined` when it answered, else why not. */
export async function probeBroker(url: string, timeoutMs = 5000): Promise<string | undefined> {
  try {
    const client = await connectAsync(url, {
      clientId: `veep-probe-${process.pid}-${Date.now().toString(36)}`,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    });
    await client.endAsync(true);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  }
}
