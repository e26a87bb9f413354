import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { MqttClient } from "mqtt";
import pg from "pg";
import { expect } from "vitest";
import type { JsonObject } from "../../../src/message/types.js";
import { postgresStore } from "../../../src/stores/postgres/index.js";
import { seedPayload } from "../../../src/testing/index.js";
import { messageHash } from "../../../src/verify.js";
import { sleep } from "./collect.js";

/** One unique reading: topic, payload text and the message hash the store must hold for it. */
export interface Published {
  readonly topic: string;
  readonly payload: string;
  readonly hash: string;
}

/** `count` sample readings spread over `devices` devices of one tenant, unique by `salt`. */
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
export async function publishConcurrently<
  T extends { readonly topic: string; readonly payload: string | Buffer } = Published,
>(
  client: MqttClient,
  items: readonly T[],
  options: { window?: number; onAcked?: (item: T) => void; gate?: () => Promise<void> } = {},
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
 * Waits until the database holds `count` messages, or until the bridge is idle with fewer: `buffered()`
 * (what it holds) is 0 and no new row came for 5 s (a broker that dropped messages never delivers them).
 * Fails after `timeoutMs`.
 */
export async function waitForCountOrIdle(
  url: string,
  count: number,
  buffered: () => number | undefined,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const seen = await countMessages(url);
    if (seen >= count) return;
    if (seen !== last) {
      last = seen;
      since = Date.now();
    } else if (Date.now() - since > 5000 && buffered() === 0) return;
    if (Date.now() > deadline) throw new Error(`timed out: ${seen} of ${count} messages stored`);
    await sleep(100);
  }
}

/**
 * The check the pipeline tests end with: the stored hashes are exactly the expected set, each once, and every batch
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

/** The counters a bridge process prints (its `bridge.stats()`), in a `stats` line. */
export interface BridgeProcessStats {
  readonly received: number;
  readonly stored: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly sealedBatches: number;
  readonly buffered: number;
  readonly bufferedBytes: number;
  readonly openBatchSize: number;
}

/** A bridge running as a child process (test/mqtt/fixtures/bridge-process.ts). */
export interface BridgeProcess {
  /** Resolves once the bridge printed `ready`. */
  readonly ready: Promise<void>;
  /** Messages this process stored / recognised as duplicates, from its `stored` lines. */
  readonly counts: { stored: number; duplicates: number };
  /** Its last `stats` line (periodic ones need VB_STATS_INTERVAL_MS), if any. */
  readonly lastStats: BridgeProcessStats | undefined;
  /** What it wrote on standard error so far. */
  readonly stderr: string;
  /** The last 50 lines it printed other than `stored` events (errors, source states, stats). */
  readonly recent: readonly string[];
  /** The detail of each `online` source event, e.g. "mqtt://… as id (MQTT 3.1.1, new session)". */
  readonly online: readonly string[];
  /** Its `backpressure` events: what it held when it paused the source. */
  readonly backpressure: readonly { readonly buffered: number; readonly bufferedBytes: number }[];
  /** `false` once it exited. */
  readonly running: boolean;
  /** SIGKILL it and wait for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * SIGTERM (the bridge drains, prints its final stats and exits); after `timeoutMs` without an exit,
   * SIGKILL. Resolves with the final stats, or `undefined` when it had to be killed.
   */
  stop(timeoutMs?: number): Promise<BridgeProcessStats | undefined>;
}

/** Starts the bridge process. */
export function spawnBridge(env: {
  MQTT_URL: string;
  DATABASE_URL: string;
  CLIENT_ID: string;
  TENANT?: string;
  /** MQTT protocol version of the bridge, `"4"` or `"5"`; unset: the library's default. */
  VB_MQTT_PROTOCOL?: "4" | "5";
  /** Print stats every this many milliseconds. */
  VB_STATS_INTERVAL_MS?: string;
  BATCH_MAX?: string;
  /** `writeBuffer.capacityBytes` of the bridge; unset: the library's default. */
  VB_CAPACITY_BYTES?: string;
}): BridgeProcess {
  // `node --import tsx` (not `npx tsx`, which forks): the pid we SIGKILL is the bridge itself.
  const child = spawn(process.execPath, ["--import", "tsx", "test/mqtt/fixtures/bridge-process.ts"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const counts = { stored: 0, duplicates: 0 };
  let lastStats: BridgeProcessStats | undefined;
  let finalStats: BridgeProcessStats | undefined;
  let stderr = "";
  const recent: string[] = [];
  const online: string[] = [];
  const backpressure: { buffered: number; bufferedBytes: number }[] = [];
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const event = JSON.parse(line) as {
        event: string;
        stored?: number;
        duplicates?: number;
        final?: boolean;
        state?: string;
        detail?: string;
        buffered?: number;
        bufferedBytes?: number;
      };
      if (event.event === "ready") resolve();
      if (event.event === "source" && event.state === "online") online.push(event.detail ?? "");
      if (event.event === "backpressure")
        backpressure.push({ buffered: event.buffered ?? 0, bufferedBytes: event.bufferedBytes ?? 0 });
      if (event.event !== "stored") {
        recent.push(line);
        if (recent.length > 50) recent.shift();
      }
      if (event.event === "stored") {
        counts.stored += event.stored ?? 0;
        counts.duplicates += event.duplicates ?? 0;
      }
      if (event.event === "stats") {
        lastStats = event as unknown as BridgeProcessStats;
        if (event.final === true) finalStats = lastStats;
      }
    });
    void exited.then(() => reject(new Error(`bridge process exited before ready: ${stderr}`)));
  });
  ready.catch(() => {});
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    ready,
    counts,
    get lastStats() {
      return lastStats;
    },
    recent,
    online,
    backpressure,
    get stderr() {
      return stderr;
    },
    get running() {
      return running();
    },
    async kill(signal = "SIGKILL") {
      if (running()) child.kill(signal);
      await exited;
    },
    async stop(timeoutMs = 30_000) {
      if (running()) child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      });
      const late = await Promise.race([exited.then(() => false), timedOut]);
      clearTimeout(timer);
      if (late) {
        child.kill("SIGKILL");
        await exited;
        return undefined;
      }
      // `exit` may come before the last lines are read.
      await new Promise<void>((resolve) =>
        child.stdout.readableEnded ? resolve() : child.stdout.once("end", resolve),
      );
      return finalStats;
    },
  };
}
