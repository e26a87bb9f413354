import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceKeyPair } from "../../src/signing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { cleanEnv, runCli } from "./support/process.js";

const KEY_1 = deviceKeyPair(new Uint8Array(32).fill(11)).publicKey;
const KEY_2 = deviceKeyPair(new Uint8Array(32).fill(12)).publicKey;

describe("veep-bridge devices", () => {
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    db = await createTestDatabase("vb_cli_devices");
    env = cleanEnv({ DATABASE_URL: db.url });
    const migrated = await runCli(["migrate", "--seed"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function keyOf(device: string): Promise<string | null | undefined> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT public_key FROM devices WHERE device_id = $1", [device]);
      return rows[0]?.public_key;
    } finally {
      await client.end();
    }
  }

  it("set-key sets, then rotates a key, printing the previous one; remove-key removes it", async () => {
    const set = await runCli(["devices", "set-key", "SENSOR_001", KEY_1], env);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe(`set the key of device "SENSOR_001" to ${KEY_1}\n`);
    expect(await keyOf("SENSOR_001")).toBe(KEY_1);
    const rotated = await runCli(["devices", "set-key", "SENSOR_001", KEY_2], env);
    expect(rotated.stdout).toBe(`rotated the key of device "SENSOR_001" to ${KEY_2} (was ${KEY_1})\n`);
    expect(await keyOf("SENSOR_001")).toBe(KEY_2);
    const removed = await runCli(["devices", "remove-key", "SENSOR_001"], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`removed the key of device "SENSOR_001" (was ${KEY_2})\n`);
    expect(await keyOf("SENSOR_001")).toBeNull();
  });

  it("registers an unknown device only with --tenant and --site (exit 4 without)", async () => {
    const unknown = await runCli(["devices", "set-key", "NEW_DEVICE", KEY_1], env);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/device "NEW_DEVICE" is unknown.*--tenant and --site/);
    expect(await keyOf("NEW_DEVICE")).toBeUndefined();
    const registered = await runCli(
      ["devices", "set-key", "NEW_DEVICE", KEY_1, "--tenant", "factory7", "--site", "line7"],
      env,
    );
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout).toMatch(/registered device "NEW_DEVICE" with key/);
    expect(await keyOf("NEW_DEVICE")).toBe(KEY_1);
  });

  it("refuses a key that is not base58 of 32 bytes, and a wrong command line, with exit 2", async () => {
    for (const args of [
      ["devices", "set-key", "SENSOR_002", "0OIl-not-base58"],
      ["devices", "set-key", "SENSOR_002", `${KEY_1}${KEY_1}`],
      ["devices", "set-key", "SENSOR_002"],
      ["devices", "rotate", "SENSOR_002", KEY_1],
      ["devices", "set-key", "SENSOR_002", KEY_1, "--tenant", "t"],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/See `veep-bridge devices --help`/);
    }
    expect(await keyOf("SENSOR_002")).toBeNull();
  });
});
