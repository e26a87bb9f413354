import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenBatch } from "../../src/bridge/open-batch.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { makeReadings } from "../../src/testing/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { cleanEnv, runCli } from "./support/process.js";

const DAY = 86_400_000;

describe("veep-bridge archive, prune, retention and verify --archive", () => {
  let db: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const batches: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("vb_cli_retention");
    dir = await mkdtemp(join(tmpdir(), "veep-cli-archive-"));
    env = cleanEnv({ DATABASE_URL: db.url });
    const store = postgresStore({ connectionString: db.url });
    await store.open();
    for (const daysAgo of [120, 100, 1]) {
      const batch = new OpenBatch();
      batch.apply(
        (
          await store.append(
            batch.request(makeReadings(4, { start: new Date(Date.now() - daysAgo * DAY) }), []),
          )
        ).plan!,
      );
      await store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: 4 });
      batches.push(batch.batchId);
    }
    await store.close();
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("prune refuses (exit 1) before the batches are archived; archive, verify --archive, prune, verify then pass", async () => {
    const refused = await runCli(["prune", "--older-than", "90d"], env);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/not archived: archive them first/);

    const archived = await runCli(["archive", "--to", dir, "--older-than", "90d"], env);
    expect(archived.code, archived.stderr).toBe(0);
    expect(archived.stdout).toMatch(/archived 2 batch\(es\), 8 message\(s\)/);
    const checked = await runCli(["verify", "--archive", dir]);
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/verified 2 archive file\(s\), 8 message\(s\)/);

    const pruned = await runCli(["prune", "--before", new Date(Date.now() - 90 * DAY).toISOString()], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/pruned 2 partition\(s\)/);
    const verified = await runCli(["verify"], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/2 of them pruned after archiving/);
    expect(verified.stdout).toContain(`pruned  ${batches[0]}`);

    await writeFile(join(dir, "junk.json"), "{ not json");
    const broken = await runCli(["verify", "--archive", dir]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/FAILED {2}junk\.json: not JSON/);
  });

  it("retention runs both with the defaults (90 days, 1 year); archive and prune say what they need", async () => {
    const again = await runCli(["retention", "--to", dir], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/retention: archived 0 batch\(es\) to .*, pruned 0 partition\(s\)/);
    const noDir = await runCli(["archive", "--older-than", "90d"], env);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toMatch(/--to DIR/);
    const noCutoff = await runCli(["prune"], env);
    expect(noCutoff.code).toBe(2);
    expect(noCutoff.stderr).toMatch(/--before DATE or --older-than DURATION/);
  });
});
