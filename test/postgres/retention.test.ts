import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { anchorBatches, memoryAnchor, verifyAnchors } from "../../src/anchoring/index.js";
import { OpenBatch } from "../../src/bridge/open-batch.js";
import { verifyInclusion } from "../../src/hashing/index.js";
import { type ArchiveFile, PruneRefusedError, verifyArchive } from "../../src/stores/postgres/index.js";
import type { MessageProof } from "../../src/stores/store.js";
import { makeReadings } from "../../src/testing/index.js";
import { appendTo, type PgFixture, pgFixture } from "./helpers.js";

const DAY = 86_400_000;

describe("retention: archive → prune → verify", () => {
  let fx: PgFixture;
  let dir: string;
  beforeEach(async () => {
    fx = await pgFixture();
    dir = await mkdtemp(join(tmpdir(), "veep-archive-"));
  });
  afterEach(async () => {
    await fx?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  /** A sealed batch of `size` readings received `daysAgo` days ago. */
  async function sealed(daysAgo: number, size: number): Promise<OpenBatch> {
    const batch = new OpenBatch();
    await appendTo(fx.store, batch, makeReadings(size, { start: new Date(Date.now() - daysAgo * DAY) }));
    await fx.store.sealBatch({ batchId: batch.batchId, batchHash: batch.batchHash, messageCount: size });
    return batch;
  }

  it("archives old batches to files, refuses to prune before, drops whole partitions after; rows, proofs and anchors stay valid", async () => {
    const old = [await sealed(10, 6), await sealed(9, 4)];
    const recent = await sealed(0, 3);
    const anchor = memoryAnchor();
    const anchorer = anchorBatches(fx.store, { anchor });
    await anchorer.runOnce();
    await anchorer.runOnce();
    const proofs: MessageProof[] = [];
    for (const batch of old) {
      const { rows } = await fx.sql.query<{ message_id: string }>(
        "SELECT message_id FROM messages WHERE batch_id = $1 AND leaf_index = 1",
        [batch.batchId],
      );
      proofs.push((await fx.store.getProof(rows[0]!.message_id))!);
    }
    const cutoff = new Date(Date.now() - 8 * DAY);

    await expect(fx.store.prune({ before: cutoff })).rejects.toBeInstanceOf(PruneRefusedError);
    const kept = await fx.sql.query("SELECT count(*)::int AS n FROM messages");
    expect(kept.rows[0].n).toBe(13);

    const archived = await fx.store.archive({ before: cutoff, directory: dir });
    expect(archived.map((a) => a.batchId)).toEqual(old.map((b) => b.batchId));
    expect(await fx.store.archive({ before: cutoff, directory: dir })).toEqual([]);
    const file = JSON.parse(await readFile(join(dir, `${old[0]!.batchId}.json`), "utf8")) as ArchiveFile;
    expect(file.manifest).toMatchObject({
      batchId: old[0]!.batchId,
      batchHash: old[0]!.batchHash,
      messageCount: 6,
      status: "blockchain_confirmed",
    });
    expect(file.manifest.anchor?.memo).toContain(old[0]!.batchHash);
    expect(file.messages.map((m) => m.leafIndex)).toEqual([0, 1, 2, 3, 4, 5]);
    const archiveReport = await verifyArchive(dir);
    expect(archiveReport).toMatchObject({ ok: true, files: 2, messages: 10 });

    const pruned = await fx.store.prune({ before: cutoff });
    expect(pruned.map((p) => [p.messages, p.batches])).toEqual([
      [6, 1],
      [4, 1],
    ]);
    const left = await fx.sql.query<{ batch_id: string }>("SELECT DISTINCT batch_id FROM messages");
    expect(left.rows.map((r) => r.batch_id)).toEqual([recent.batchId]);
    const partitions = await fx.sql.query("SELECT to_regclass($1) AS t", [pruned[0]!.name]);
    expect(partitions.rows[0].t).toBeNull();

    const report = await fx.store.verifyAll();
    expect(report).toMatchObject({ ok: true, batches: 3, prunedBatches: 2, messages: 3, failedBatches: 0 });
    for (const [i, batch] of old.entries()) {
      const row = await fx.store.getBatch(batch.batchId);
      expect(row).toMatchObject({ batchHash: batch.batchHash, messageCount: batch.messageCount });
      expect(verifyInclusion(proofs[i]!, { root: row!.batchHash, treeSize: row!.messageCount })).toBe(true);
      expect(await fx.store.getProof(proofs[i]!.messageId)).toBeNull();
    }
    const anchors = [];
    for await (const check of verifyAnchors(fx.store, anchor)) anchors.push(check);
    expect(anchors.map((a) => a.ok)).toEqual([true, true, true]);
  });

  it("verifyArchive names a file whose reading was changed, and one whose manifest states another count", async () => {
    const batch = await sealed(5, 4);
    await fx.store.archive({ before: new Date(), directory: dir });
    const path = join(dir, `${batch.batchId}.json`);
    const original = JSON.parse(await readFile(path, "utf8")) as ArchiveFile;
    const edited = structuredClone(original) as unknown as { messages: Array<{ rawData: string }> };
    edited.messages[2]!.rawData = edited.messages[2]!.rawData.replace(/"kwh": [0-9.]+/, '"kwh": 999.99');
    await writeFile(path, JSON.stringify(edited));
    const report = await verifyArchive(dir);
    expect(report.ok).toBe(false);
    expect(report.results[0]!.failure).toMatch(/raw_data hashes to/);
    await writeFile(
      path,
      JSON.stringify({ ...original, manifest: { ...original.manifest, messageCount: 5 } }),
    );
    expect((await verifyArchive(dir)).results[0]!.failure).toMatch(/states 5 messages, the file holds 4/);
  });

  it("prune --force drops a partition of batches that are not archived, and archive_old_batches() lists what is due", async () => {
    await sealed(400, 3);
    const due = await fx.sql.query<{ action: string }>("SELECT action FROM archive_old_batches()");
    expect(due.rows.map((r) => r.action).sort()).toEqual(["archive", "prune"]);
    const dropped = await fx.store.prune({ before: new Date(Date.now() - 365 * DAY), force: true });
    expect(dropped).toHaveLength(1);
    const report = await fx.store.verifyAll();
    expect(report).toMatchObject({ ok: true, prunedBatches: 1 });
  });
});
