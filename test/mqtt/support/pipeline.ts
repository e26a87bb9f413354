import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { MqttClient } from "mqtt";
import pg from "pg";
import { expect } from "vitest";
import { messageHash } from "../../../src/index.js";
import type { JsonObject } from "../../../src/message/types.js";
import { postgresStore } from "../../../src/stores/postgres/index.js";
import { seedPayload } from "../../../src/testing/index.js";
import { sleep } from "./collect.js";

/** One unique reading: topic, payload text and the message hash the store must hold for it. */
export interface Published {
  readonly topic: string;
  readonly payload: string;
  readonly hash: string;
}

/** `count` seed-shaped readings spread over `devices` devices of one tenant, unique by `salt`. */
export function readings(tenant: string, count: number, devices = 10, salt = tenant): Published[] {
  return Array.from({ length: count }, (_, i) => {
    const device = `SENSOR_${String((i % devices) + 1).padStart(3, "0")}`;
    const body: JsonObject = seedPayload(device, i, salt);
    return {
      topic: `vbmqtt/${tenant}/site1/${device}/data`,
      payload: JSON.stringify(body),
      hash: messageHash(body),
    };
  });
}

/**
 * Publishes `items` at QoS 1 with up to `window` publishes outstanding; `onAcked` sees each PUBACKed item.
 * `gate` (optional) is awaited before each publish, to pace the publisher.
 */
export async function publishConcurrently(
  client: MqttClient,
  items: readonly Published[],
  options: { window?: number; onAcked?: (item: Published) => void; gate?: () => Promise<void> } = {},
): Promise<void> {
  const window = options.window ?? 100;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await options.gate?.();
      await client.publishAsync(item.topic, item.payload, { qos: 1 });
      options.onAcked?.(item);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** Runs the migrations once (so concurrent bridge processes find the schema). */
export async function migrateDatabase(url: string): Promise<void> {
  const store = postgresStore({ connectionString: url });
  await store.open();
  await store.close();
}

/** All `message_hash` values in the database, with the row count (to see duplicates). */
export async function storedHashes(url: string): Promise<{ rows: number; hashes: Set<string> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ message_hash: string }>("SELECT message_hash FROM messages");
    return { rows: rows.length, hashes: new Set(rows.map((r) => r.message_hash)) };
  } finally {
    await client.end();
  }
}

/** Number of message rows. */
export async function countMessages(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM messages");
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** Waits until the database holds `count` messages (or fails after `timeoutMs`). */
export async function waitForCount(url: string, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await countMessages(url);
    if (seen >= count) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${seen} of ${count} messages stored`);
    await sleep(100);
  }
}

/**
 * The acceptance check: the stored hashes are exactly the expected set, each once, and every batch
 * verifies (root recomputed from its leaves).
 */
export async function expectStoredExactlyOnce(url: string, expected: readonly Published[]): Promise<void> {
  const { rows, hashes } = await storedHashes(url);
  const want = new Set(expected.map((p) => p.hash));
  const missing = [...want].filter((h) => !hashes.has(h));
  const extra = [...hashes].filter((h) => !want.has(h));
  expect({ missing: missing.length, extra: extra.length, duplicates: rows - hashes.size }).toEqual({
    missing: 0,
    extra: 0,
    duplicates: 0,
  });
  const store = postgresStore({ connectionString: url, migrate: false });
  await store.open();
  try {
    const report = await store.verifyAll();
    expect(report.firstFailure).toBeNull();
    expect(report.ok).toBe(true);
    expect(report.messages).toBe(want.size);
  } finally {
    await store.close();
  }
}

/** A bridge running as a child process (test/mqtt/fixtures/bridge-process.ts). */
export interface BridgeProcess {
  /** Resolves once the bridge printed `ready`. */
  readonly ready: Promise<void>;
  /** Messages this process stored / recognised as duplicates, from its `stored` lines. */
  readonly counts: { stored: number; duplicates: number };
  /** SIGKILL it and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the bridge process. */
export function spawnBridge(env: {
  MQTT_URL: string;
  DATABASE_URL: string;
  CLIENT_ID: string;
  /** MQTT protocol version of the bridge, `"4"` (default) or `"5"`. */
  VB_MQTT_PROTOCOL?: "4" | "5";
}): BridgeProcess {
  // `node --import tsx` (not `npx tsx`, which forks): the pid we SIGKILL is the bridge itself.
  const child = spawn(process.execPath, ["--import", "tsx", "test/mqtt/fixtures/bridge-process.ts"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const counts = { stored: 0, duplicates: 0 };
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const event = JSON.parse(line) as { event: string; stored?: number; duplicates?: number };
      if (event.event === "ready") resolve();
      if (event.event === "stored") {
        counts.stored += event.stored ?? 0;
        counts.duplicates += event.duplicates ?? 0;
      }
    });
    void exited.then(() => reject(new Error(`bridge process exited before ready: ${stderr}`)));
  });
  ready.catch(() => {});
  return {
    ready,
    counts,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
