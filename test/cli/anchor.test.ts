import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OpenBatch } from "../../src/bridge/open-batch.js";
import { rewriteReadingConsistently } from "../../src/cli/tamper.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import { createTestDatabase, queryRows, type TestDatabase } from "../support/database.js";
import { type LiteSvmRpc, startLiteSvmRpc } from "../support/litesvm-rpc.js";
import { checkWithPython } from "../support/python.js";
import { forgetSession } from "./support/mqtt-session.js";
import { cleanEnv, REPO_ROOT, runCli, start, TSX } from "./support/process.js";

describe("veep-bridge anchor, verify --anchors, proof and verify-proof --memo (LiteSVM over JSON-RPC)", () => {
  let db: TestDatabase;
  let rpc: LiteSvmRpc;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let keypairFile: string;
  const batchIds: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("vb_anchor");
    rpc = await startLiteSvmRpc();
    dir = await mkdtemp(join(tmpdir(), "veep-anchor-"));
    keypairFile = join(dir, "payer.json");
    await writeFile(keypairFile, rpc.keypairJson);
    env = cleanEnv({ DATABASE_URL: db.url, SOLANA_RPC_URL: rpc.url, SOLANA_KEYPAIR: keypairFile });
    const store = postgresStore({ connectionString: db.url });
    await store.open();
    for (const size of [5, 3]) {
      const batch = new OpenBatch();
      const result = await store.append(batch.request(makeReadings(size), []));
      batch.apply(result.plan!);
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: size });
      batchIds.push(batch.batchId);
    }
    await store.close();
  });
  afterAll(async () => {
    await rpc?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const query = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    queryRows<T>(db.url, sql, params);

  it("anchor sends one memo transaction per sealed batch and confirms it; the key never appears", async () => {
    const result = await runCli(["anchor"], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`fee payer ${rpc.payer.address} on 127.0.0.1:`);
    for (const id of batchIds)
      expect(result.stdout).toMatch(new RegExp(`confirmed  ${id}  slot \\d+  fee 5000 lamports`));
    const secret = (JSON.parse(rpc.keypairJson) as number[]).slice(0, 32);
    for (const text of [result.stdout, result.stderr]) {
      expect(text).not.toContain(secret.join(","));
      expect(text).not.toContain(Buffer.from(secret).toString("hex"));
      expect(text).not.toContain(Buffer.from(secret).toString("base64"));
    }
    const rows = await query("SELECT status, solana_confirmed FROM batches ORDER BY created_at");
    expect(rows).toEqual(batchIds.map(() => ({ status: "blockchain_confirmed", solana_confirmed: true })));
    const again = await runCli(["anchor"], env);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/sent|confirmed {2}/);
  });

  it("anchor without a keypair or cluster says what to give (exit 2)", async () => {
    const noKey = await runCli(["anchor"], cleanEnv({ DATABASE_URL: db.url, SOLANA_RPC_URL: rpc.url }));
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--keypair FILE or SOLANA_KEYPAIR/);
    const noUrl = await runCli(["anchor"], cleanEnv({ DATABASE_URL: db.url, SOLANA_KEYPAIR: keypairFile }));
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/--rpc-url URL or SOLANA_RPC_URL/);
  });

  it("a consistent rewrite passes verify but not verify --anchors, which names the batch; proof carries the anchor", async () => {
    expect((await runCli(["verify", "--anchors"], env)).code).toBe(0);
    const victim = (
      await query<{ message_id: string }>(
        "SELECT message_id FROM messages WHERE batch_id = $1 AND leaf_index = 2",
        [batchIds[0]],
      )
    )[0]!.message_id;
    const before = await runCli(["proof", victim], env);
    const anchoredMemo = (JSON.parse(before.stdout) as { anchor: { memo: string } }).anchor.memo;
    expect(anchoredMemo).toMatch(new RegExp(`^veep-bridge:v1:${batchIds[0]}:5:[0-9a-f]{64}$`));

    const rewrite = await rewriteReadingConsistently(db.url, victim, (p) => ({ ...p, kwh: 999.99 }));
    expect(rewrite.rootAfter).not.toBe(rewrite.rootBefore);

    const plain = await runCli(["verify"], env);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/every hash and root matches/);
    const anchored = await runCli(["verify", "--anchors"], env);
    expect(anchored.code).toBe(1);
    expect(anchored.stderr).toContain(`anchor verification FAILED: batch ${batchIds[0]}`);
    expect(anchored.stderr).toMatch(/the memo states root [0-9a-f]{64}, the database [0-9a-f]{64}/);
    expect(anchored.stdout).toMatch(new RegExp(`anchor ok +${batchIds[1]}`));

    const proof = await runCli(["proof", victim], env);
    const printed = JSON.parse(proof.stdout) as {
      root: string;
      anchor: { signature: string; slot: number; memo: string };
    };
    expect(printed.anchor.memo).toBe(anchoredMemo);
    const file = join(dir, "proof.json");
    await writeFile(file, proof.stdout);
    expect((await runCli(["verify-proof", file])).code).toBe(0);
    const withMemo = await runCli(["verify-proof", file, "--memo", anchoredMemo]);
    expect(withMemo.code).toBe(1);
    if (checkWithPython) {
      const verifier = join(REPO_ROOT, "docs/verifier/verify_proof.py");
      expect(spawnSync("python3", [verifier, file]).status).toBe(0);
      expect(spawnSync("python3", [verifier, file, "--memo", anchoredMemo]).status).toBe(1);
    }

    const honest = (
      await query<{ message_id: string }>(
        "SELECT message_id FROM messages WHERE batch_id = $1 AND leaf_index = 1",
        [batchIds[1]],
      )
    )[0]!.message_id;
    const good = await runCli(["proof", honest], env);
    const goodFile = join(dir, "good.json");
    await writeFile(goodFile, good.stdout);
    const goodMemo = (JSON.parse(good.stdout) as { anchor: { memo: string } }).anchor.memo;
    const ok = await runCli(["verify-proof", goodFile, "--memo", goodMemo]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/anchored on chain for batch/);
    expect((await runCli(["verify-proof", goodFile, "--memo", anchoredMemo])).code).toBe(1);
    if (checkWithPython) {
      const verifier = join(REPO_ROOT, "docs/verifier/verify_proof.py");
      expect(spawnSync("python3", [verifier, goodFile, "--memo", goodMemo]).status).toBe(0);
      expect(spawnSync("python3", [verifier, goodFile, "--memo", anchoredMemo]).status).toBe(1);
    }
  });

  it("anchor --watch anchors a batch sealed while it runs, and stops on SIGINT with exit 0", async () => {
    const watching = start(TSX, ["src/cli/main.ts", "anchor", "--watch", "--interval", "200ms"], env);
    try {
      await watching.waitForOutput(/fee payer \w+ on/);
      const store = postgresStore({ connectionString: db.url });
      await store.open();
      const batch = new OpenBatch();
      batch.apply((await store.append(batch.request(makeReadings(2), []))).plan!);
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 2 });
      await store.close();
      await watching.waitForOutput(new RegExp(`confirmed  ${batch.batchId}  slot \\d+`));
      watching.child.kill("SIGINT");
      expect((await watching.exited).code).toBe(0);
      const rows = await query("SELECT status FROM batches WHERE batch_id = $1", [batch.batchId]);
      expect(rows).toEqual([{ status: "blockchain_confirmed" }]);
    } finally {
      if (watching.child.exitCode === null) watching.child.kill("SIGKILL");
    }
  });

  it("run --anchor anchors each batch the bridge seals, in the bridge, and logs the confirmations", async () => {
    const tenant = `anc${Date.now().toString(36)}`;
    const clientId = `cli-anchor-${tenant}`;
    const running = start(
      TSX,
      [
        "src/cli/main.ts",
        "run",
        "--anchor",
        "--json",
        "--client-id",
        clientId,
        "--mqtt-url",
        inject("mqttUrl"),
        "--topic",
        "veep/{tenant}/{site}/{device}/data",
        "--batch-max-messages",
        "3",
      ],
      env,
    );
    try {
      await running.waitForOutput(/"event":"started"/);
      const devices = await connectAsync(inject("mqttUrl"), { clientId: `cli-anchor-pub-${tenant}` });
      for (let i = 0; i < 6; i++) {
        const payload = { deviceId: "SENSOR_001", timestamp: 1_696_156_800 + i, kwh: i };
        await devices.publishAsync(`veep/${tenant}/line2/SENSOR_001/data`, JSON.stringify(payload), {
          qos: 1,
        });
      }
      await devices.endAsync();
      const deadline = Date.now() + 30_000;
      while (
        (running.stdout().match(/"event":"anchor:confirmed"/g) ?? []).length < 2 &&
        Date.now() < deadline
      )
        await new Promise((resolve) => setTimeout(resolve, 100));
      running.child.kill("SIGTERM");
      const { code } = await running.exited;
      expect(code, running.stderr()).toBe(0);
      const confirmed = running
        .stdout()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { event: string; batchId?: string; feeLamports?: number })
        .filter((e) => e.event === "anchor:confirmed");
      expect(confirmed).toHaveLength(2);
      expect(confirmed.every((e) => e.feeLamports === 5000)).toBe(true);
      for (const e of confirmed) {
        const rows = await query("SELECT status FROM batches WHERE batch_id = $1", [e.batchId]);
        expect(rows).toEqual([{ status: "blockchain_confirmed" }]);
      }
    } finally {
      if (running.child.exitCode === null) running.child.kill("SIGKILL");
      await forgetSession(inject("mqttUrl"), clientId);
    }
  });
});

describe("veep-bridge anchor --aggregate: one transaction for several batches (LiteSVM over JSON-RPC)", () => {
  let db: TestDatabase;
  let rpc: LiteSvmRpc;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const batchIds: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("vb_anchor_agg");
    rpc = await startLiteSvmRpc();
    dir = await mkdtemp(join(tmpdir(), "veep-anchor-agg-"));
    const keypairFile = join(dir, "payer.json");
    await writeFile(keypairFile, rpc.keypairJson);
    env = cleanEnv({ DATABASE_URL: db.url, SOLANA_RPC_URL: rpc.url, SOLANA_KEYPAIR: keypairFile });
    const store = postgresStore({ connectionString: db.url });
    await store.open();
    for (const size of [4, 3, 5]) {
      const batch = new OpenBatch();
      batch.apply((await store.append(batch.request(makeReadings(size), []))).plan!);
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: size });
      batchIds.push(batch.batchId);
    }
    await store.close();
  });
  afterAll(async () => {
    await rpc?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const query = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> =>
    queryRows<T>(db.url, sql, params);

  async function proofOf(batchId: string, leaf: number): Promise<{ file: string; memo: string }> {
    const rows = await query<{ message_id: string }>(
      "SELECT message_id FROM messages WHERE batch_id = $1 AND leaf_index = $2",
      [batchId, leaf],
    );
    const proof = await runCli(["proof", rows[0]!.message_id], env);
    expect(proof.code, proof.stderr).toBe(0);
    const file = join(dir, `proof-${batchId}-${leaf}.json`);
    await writeFile(file, proof.stdout);
    return { file, memo: (JSON.parse(proof.stdout) as { anchor: { memo: string } }).anchor.memo };
  }

  it("anchors three batches with one veep-bridge:v2 memo and one fee; proofs go on to the anchored root", async () => {
    const result = await runCli(["anchor", "--aggregate", "3"], env);
    expect(result.code, result.stderr).toBe(0);
    const rows = await query<{
      batch_id: string;
      tx_signature: string;
      memo: string;
      gas_fee: string;
      aggregate_index: number;
      aggregate_size: number;
    }>(
      "SELECT batch_id, tx_signature, memo, gas_fee::text, aggregate_index, aggregate_size FROM blockchain_transactions",
    );
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((r) => r.tx_signature)).size).toBe(1);
    expect(rows[0]!.memo).toMatch(/^veep-bridge:v2:3:[0-9a-f]{64}$/);
    expect(rows.map((r) => r.aggregate_size)).toEqual([3, 3, 3]);
    expect(rows.map((r) => r.aggregate_index).sort()).toEqual([0, 1, 2]);
    expect(rows.every((r) => r.gas_fee === "0.000005000")).toBe(true);
    const statuses = await query("SELECT status FROM batches");
    expect(statuses).toEqual(batchIds.map(() => ({ status: "blockchain_confirmed" })));

    const verified = await runCli(["verify", "--anchors"], env);
    expect(verified.code, verified.stderr).toBe(0);
    for (const [i, batchId] of batchIds.entries()) {
      const { file, memo } = await proofOf(batchId, i);
      expect(memo).toBe(rows[0]!.memo);
      const printed = JSON.parse(await readFile(file, "utf8")) as {
        anchor: { aggregation: { treeSize: number } };
      };
      expect(printed.anchor.aggregation.treeSize).toBe(3);
      const checked = await runCli(["verify-proof", file, "--memo", memo]);
      expect(checked.code, checked.stderr).toBe(0);
      expect(checked.stdout).toMatch(/root anchored on chain for 3 batches/);
      if (checkWithPython) {
        const verifier = join(REPO_ROOT, "docs/verifier/verify_proof.py");
        expect(spawnSync("python3", [verifier, file, "--memo", memo]).status).toBe(0);
      }
    }
  });

  it("a consistent rewrite of one aggregated batch fails verify --anchors for that batch alone, and its proofs against the memo", async () => {
    const victim = (
      await query<{ message_id: string }>(
        "SELECT message_id FROM messages WHERE batch_id = $1 AND leaf_index = 0",
        [batchIds[1]],
      )
    )[0]!.message_id;
    await rewriteReadingConsistently(db.url, victim, (p) => ({ ...p, kwh: 999.99 }));
    expect((await runCli(["verify"], env)).code).toBe(0);
    const anchored = await runCli(["verify", "--anchors"], env);
    expect(anchored.code).toBe(1);
    expect(anchored.stderr).toContain(`anchor verification FAILED: batch ${batchIds[1]}`);
    expect(anchored.stderr).not.toContain(batchIds[0]!);
    expect(anchored.stdout).toMatch(new RegExp(`anchor ok +${batchIds[0]}`));
    expect(anchored.stdout).toMatch(new RegExp(`anchor ok +${batchIds[2]}`));

    const tampered = await proofOf(batchIds[1]!, 0);
    expect((await runCli(["verify-proof", tampered.file])).code).toBe(0);
    expect((await runCli(["verify-proof", tampered.file, "--memo", tampered.memo])).code).toBe(1);
    const honest = await proofOf(batchIds[2]!, 4);
    expect((await runCli(["verify-proof", honest.file, "--memo", honest.memo])).code).toBe(0);
    if (checkWithPython) {
      const verifier = join(REPO_ROOT, "docs/verifier/verify_proof.py");
      expect(spawnSync("python3", [verifier, tampered.file, "--memo", tampered.memo]).status).toBe(1);
      expect(spawnSync("python3", [verifier, honest.file, "--memo", honest.memo]).status).toBe(0);
    }
  });
});
