import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { merkleRootHex } from "../../src/adapter.js";
import { deviceKeyPair, signPayload } from "../../src/device-signing.js";
import { createBridge, type JsonObject } from "../../src/index.js";
import { mqttSource } from "../../src/sources/mqtt/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { canonicalJson, messageHash } from "../../src/verify.js";
import { cleanEnv, runCli } from "../cli/support/process.js";
import { createTestDatabase, queryRows, type TestDatabase } from "../support/database.js";
import type { TestBroker } from "./support/brokers.js";
import { publisher, sleep, uniqueId } from "./support/collect.js";
import { waitForCount } from "./support/pipeline.js";
import { brokerTargets, forgetSession } from "./support/targets.js";

const ALICE = deviceKeyPair(new Uint8Array(32).fill(41));
const ALICE_ROTATED = deviceKeyPair(new Uint8Array(32).fill(42));
const MALLORY = deviceKeyPair(new Uint8Array(32).fill(43));

describe.each(brokerTargets())("signed readings, MQTT → PostgreSQL → verify, on $name", (target) => {
  let broker: TestBroker;
  let db: TestDatabase;
  beforeAll(async () => {
    broker = await target.start();
    db = await createTestDatabase("vb_mqtt_sig");
  });
  afterAll(async () => {
    await db?.drop();
    await broker?.stop();
  });

  const query = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    queryRows<T>(db.url, sql, params);

  it("a signed device, an unsigned one, a forged signature and a rotated key; verify re-checks, and catches a consistent rewrite", async () => {
    const tenant = uniqueId("sig");
    const clientId = uniqueId("vb-sig");
    const env = cleanEnv({ DATABASE_URL: db.url });
    const setup = postgresStore({ connectionString: db.url });
    await setup.open();
    await setup.setDeviceKey("ALICE", ALICE.publicKey, { tenantId: tenant, siteId: "site1" });
    await setup.close();

    const bridge = createBridge({
      source: mqttSource({
        url: broker.url,
        clientId,
        topic: `vbmqtt/${tenant}/#`,
        reconnect: { minDelayMs: 100 },
      }),
      store: postgresStore({ connectionString: db.url }),
      topic: "vbmqtt/{tenant}/{site}/{device}/data",
    });
    const errors: Error[] = [];
    bridge.on("error", (e) => errors.push(e));
    await bridge.start();
    const pub = await publisher(broker.url);
    const send = (device: string, payload: JsonObject) =>
      pub.publishAsync(`vbmqtt/${tenant}/site1/${device}/data`, JSON.stringify(payload), { qos: 1 });
    const body = (device: string, n: number): JsonObject => ({ deviceId: device, n, kwh: 15 + n / 10 });

    for (let n = 0; n < 5; n++) await send("ALICE", signPayload(body("ALICE", n), ALICE.privateKey));
    for (let n = 10; n < 13; n++) await send("BOB", body("BOB", n));
    await send("ALICE", { ...signPayload(body("ALICE", 20), ALICE.privateKey), kwh: 999.99 }); // forged
    await send("ALICE", signPayload(body("ALICE", 21), MALLORY.privateKey)); // another key
    await send("ALICE", body("ALICE", 22)); // unsigned
    await waitForCount(db.url, 8, 30_000);

    // Rotate ALICE's key with the command line while the bridge runs.
    const rotated = await runCli(["devices", "set-key", "ALICE", ALICE_ROTATED.publicKey], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain(`(was ${ALICE.publicKey})`);
    await sleep(1100);
    for (let n = 30; n < 32; n++)
      await send("ALICE", signPayload(body("ALICE", n), ALICE_ROTATED.privateKey));
    await send("ALICE", signPayload(body("ALICE", 40), ALICE.privateKey)); // the old key no longer counts
    await waitForCount(db.url, 10, 30_000);
    await pub.endAsync();
    for (let i = 0; i < 100 && (await query("SELECT 1 FROM dead_letters")).length < 4; i++) await sleep(50);
    await bridge.stop({ drain: true, seal: true });
    expect(errors).toEqual([]);

    const stored = await query<{
      device: string;
      n: number;
      valid: boolean | null;
      key: string | null;
      sig: string | null;
    }>(
      `SELECT m.device_id AS device, (m.raw_data->>'n')::int AS n, v.is_valid AS valid, v.public_key AS key,
              m.device_signature AS sig
       FROM messages m LEFT JOIN signature_verifications v USING (message_id) ORDER BY n`,
    );
    expect(stored.map(({ device, n, valid, key }) => ({ device, n, valid, key }))).toEqual([
      ...[0, 1, 2, 3, 4].map((n) => ({ device: "ALICE", n, valid: true, key: ALICE.publicKey })),
      ...[10, 11, 12].map((n) => ({ device: "BOB", n, valid: null, key: null })),
      ...[30, 31].map((n) => ({ device: "ALICE", n, valid: true, key: ALICE_ROTATED.publicKey })),
    ]);
    expect(stored.filter((s) => s.device === "ALICE").every((s) => s.sig !== null)).toBe(true);
    expect(stored.filter((s) => s.device === "BOB").every((s) => s.sig === null)).toBe(true);
    const dead = await query<{ reason: string; n: number }>(
      "SELECT reason, (convert_from(payload, 'UTF8')::jsonb->>'n')::int AS n FROM dead_letters ORDER BY id",
    );
    expect(dead).toEqual([
      { reason: "bad_signature", n: 20 },
      { reason: "bad_signature", n: 21 },
      { reason: "missing_signature", n: 22 },
      { reason: "bad_signature", n: 40 },
    ]);

    const verified = await runCli(["verify"], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/every hash and root matches; 7 device signature\(s\) verify/);

    // An insider rewrites one of ALICE's readings consistently: raw_data, its message_hash, the batch root.
    const [victim] = await query<{ message_id: string; batch_id: string; raw: JsonObject }>(
      "SELECT message_id, batch_id, raw_data AS raw FROM messages WHERE device_id = 'ALICE' ORDER BY leaf_index LIMIT 1",
    );
    const changed = { ...victim!.raw, kwh: 999.99 };
    await query("UPDATE messages SET raw_data = $2::jsonb, message_hash = $3 WHERE message_id = $1", [
      victim!.message_id,
      canonicalJson(changed),
      messageHash(changed),
    ]);
    const leaves = await query<{ message_hash: string }>(
      "SELECT message_hash FROM messages WHERE batch_id = $1 ORDER BY leaf_index",
      [victim!.batch_id],
    );
    await query("UPDATE batches SET batch_hash = $2 WHERE batch_id = $1", [
      victim!.batch_id,
      merkleRootHex(leaves.map((l) => l.message_hash)),
    ]);
    const caught = await runCli(["verify"], env);
    expect(caught.code).toBe(1);
    expect(caught.stderr).toContain(`message ${victim!.message_id}: signature_invalid`);
    await forgetSession(broker.url, clientId);
  }, 90_000);
});
