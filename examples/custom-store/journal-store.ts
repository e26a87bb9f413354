/**
 * A custom Store: every commit is one line appended to a JSON Lines journal file, and opening the
 * store replays the journal. It is small enough to read in one sitting, and it passes the same
 * `storeConformance` suite as the PostgreSQL and memory stores (see journal-store.test.ts).
 *
 * The imports are the package's own names; inside this repository they resolve to the sources
 * (tsconfig `paths`, vitest `resolve.alias`).
 */

import { randomUUID } from "node:crypto";
import { appendFile, readFile } from "node:fs/promises";
import {
  BatchIntegrityError,
  type BatchRecord,
  type DeadLetterRecord,
  type Reading,
  StoreError,
} from "veep-bridge";
import {
  type AppendRequest,
  type AppendResult,
  type AuditReader,
  type BatchLeaf,
  deadLetterKey,
  duplicateKey,
  inclusionProof,
  type OpenBatchSnapshot,
  type SealRequest,
  type Store,
} from "veep-bridge/adapter";
import type { MessageProof } from "veep-bridge/verify";

interface StoredMessage {
  readonly messageId: string;
  readonly key: string;
  readonly batchId: string;
  readonly leafIndex: number;
  readonly messageHash: string;
  readonly topic: string;
  readonly rawData: string;
}

interface StoredBatch extends Omit<BatchRecord, "startTimestamp" | "endTimestamp"> {
  readonly startTimestamp: string;
  readonly endTimestamp: string;
  /** The bridge that writes it, when it named itself (`AppendRequest.owner`). */
  readonly owner?: string;
}

interface StoredLetter {
  readonly id: string;
  readonly key: string;
  readonly topic: string;
  readonly reason: DeadLetterRecord["reason"];
  readonly detail: string;
  readonly payloadBase64: string;
  readonly receivedAt: string;
}

/** One journal line: everything a single commit wrote. */
type Entry =
  | {
      readonly op: "append";
      readonly batch?: StoredBatch;
      readonly messages: StoredMessage[];
      readonly letters: StoredLetter[];
    }
  | { readonly op: "status"; readonly batchId: string; readonly status: BatchRecord["status"] }
  | { readonly op: "claim"; readonly batchId: string; readonly owner: string };

/** The state rebuilt from the journal. */
class Journal {
  readonly batches = new Map<string, StoredBatch>();
  readonly messages = new Map<string, StoredMessage>();
  /** Duplicate keys of the stored messages and the recorded letters (one rule for both). */
  readonly keys = new Set<string>();
  readonly leaves = new Map<string, StoredMessage[]>();
  readonly letters: StoredLetter[] = [];

  apply(entry: Entry): void {
    if (entry.op === "status" || entry.op === "claim") {
      const batch = this.batches.get(entry.batchId);
      const change = entry.op === "status" ? { status: entry.status } : { owner: entry.owner };
      if (batch) this.batches.set(entry.batchId, { ...batch, ...change });
      return;
    }
    if (entry.batch) this.batches.set(entry.batch.batchId, entry.batch);
    for (const message of entry.messages) {
      this.messages.set(message.messageId, message);
      this.keys.add(message.key);
      const leaves = this.leaves.get(message.batchId) ?? [];
      leaves.push(message);
      this.leaves.set(message.batchId, leaves);
    }
    for (const letter of entry.letters) this.keys.add(letter.key);
    this.letters.push(...entry.letters);
  }
}

function toRecord({ owner: _owner, ...batch }: StoredBatch): BatchRecord {
  return {
    ...batch,
    startTimestamp: new Date(batch.startTimestamp),
    endTimestamp: new Date(batch.endTimestamp),
  };
}

/**
 * A {@link Store} (with its {@link AuditReader}) that keeps its data in a JSON Lines journal at
 * `path`. It leaves open-once/close-once to the guard the bridge puts every store behind.
 */
export function journalStore(path: string): Store & AuditReader {
  let journal = new Journal();

  const write = async (entry: Entry): Promise<void> => {
    await appendFile(path, `${JSON.stringify(entry)}\n`);
    journal.apply(entry);
  };

  const batchOf = (batchId: string): StoredBatch | undefined => journal.batches.get(batchId);

  return {
    name: "journal",

    async open() {
      journal = new Journal();
      const text = await readFile(path, "utf8").catch(() => "");
      for (const line of text.split("\n")) if (line) journal.apply(JSON.parse(line) as Entry);
    },

    async loadOpenBatch(owner?: string): Promise<OpenBatchSnapshot | null> {
      const pending = [...journal.batches.values()].filter((b) => b.status === "pending");
      // Our own open batch; else one nobody owns, claimed in memory before the journal write, so
      // two callers of this process never claim the same one.
      let open = pending.find((b) => b.owner === owner);
      if (!open && owner !== undefined) {
        open = pending.find((b) => b.owner === undefined);
        if (open) {
          const claim: Entry = { op: "claim", batchId: open.batchId, owner };
          journal.apply(claim);
          await appendFile(path, `${JSON.stringify(claim)}\n`);
        }
      }
      if (!open) return null;
      return {
        ...toRecord(open),
        leaves: (journal.leaves.get(open.batchId) ?? []).map((m) => m.messageHash),
      };
    },

    async append(request: AppendRequest): Promise<AppendResult> {
      const existing = batchOf(request.batchId);
      if (existing && existing.status !== "pending") {
        throw new StoreError(`batch ${request.batchId} is ${existing.status}; it takes no more messages`);
      }
      const keyOf = (r: Reading): string => duplicateKey(r.messageHash, r.deviceId);
      const duplicates: Reading[] = request.readings.filter((r) => journal.keys.has(keyOf(r)));
      const fresh = request.readings.filter((r) => !journal.keys.has(keyOf(r)));
      const plan = fresh.length > 0 ? request.plan(fresh) : null;
      const storedLeaves = journal.leaves.get(request.batchId)?.length ?? 0;
      if (plan && (plan.createsBatch === Boolean(existing) || plan.leaves[0]?.leafIndex !== storedLeaves)) {
        throw new BatchIntegrityError(
          request.batchId,
          `batch ${request.batchId}: the plan does not continue its ${storedLeaves} stored leaves`,
        );
      }
      const recorded = new Set<string>();
      const newLetters = request.rejections.filter((r) => {
        const key = deadLetterKey(r);
        if (journal.keys.has(key) || recorded.has(key)) return false;
        recorded.add(key);
        return true;
      });
      const letters: StoredLetter[] = newLetters.map((r) => ({
        id: randomUUID(),
        key: deadLetterKey(r),
        topic: r.topic,
        reason: r.reason,
        detail: r.detail,
        payloadBase64: Buffer.from(r.payload).toString("base64"),
        receivedAt: r.receivedAt.toISOString(),
      }));
      const owner = existing ? existing.owner : request.owner;
      const batch: StoredBatch | undefined = plan
        ? {
            batchId: plan.batchId,
            batchHash: plan.batchHash,
            messageCount: plan.messageCount,
            startTimestamp: plan.startTimestamp.toISOString(),
            endTimestamp: plan.endTimestamp.toISOString(),
            status: "pending",
            ...(owner !== undefined ? { owner } : {}),
          }
        : undefined;
      const messages: StoredMessage[] = (plan?.leaves ?? []).map(({ reading, leafIndex }) => ({
        messageId: reading.messageId,
        key: keyOf(reading),
        batchId: request.batchId,
        leafIndex,
        messageHash: reading.messageHash,
        topic: reading.topic,
        rawData: reading.canonicalJson,
      }));
      if (batch || letters.length > 0)
        await write({ op: "append", ...(batch ? { batch } : {}), messages, letters });
      return { plan, duplicates, refused: [] };
    },

    async sealBatch(request: SealRequest): Promise<BatchRecord> {
      const batch = batchOf(request.batchId);
      if (batch?.status !== "pending") throw new StoreError(`no pending batch ${request.batchId}`);
      if (batch.batchHash !== request.batchHash || batch.messageCount !== request.messageCount) {
        throw new BatchIntegrityError(
          request.batchId,
          `batch ${request.batchId}: the stored root or count differs from the one to seal`,
        );
      }
      await write({ op: "status", batchId: request.batchId, status: "complete" });
      return toRecord({ ...batch, status: "complete" });
    },

    async failBatch(batchId: string) {
      await write({ op: "status", batchId, status: "failed" });
    },

    async getBatch(batchId: string) {
      const batch = batchOf(batchId);
      return batch ? toRecord(batch) : null;
    },

    async getBatchLeaves(batchId: string): Promise<readonly BatchLeaf[]> {
      return (journal.leaves.get(batchId) ?? []).map(({ messageId, leafIndex, messageHash }) => ({
        messageId,
        leafIndex,
        messageHash,
      }));
    },

    async getProof(messageId: string): Promise<MessageProof | null> {
      const message = journal.messages.get(messageId);
      const batch = message && batchOf(message.batchId);
      if (!message || !batch) return null;
      const hashes = (journal.leaves.get(batch.batchId) ?? []).map((m) => m.messageHash);
      return {
        ...inclusionProof(hashes, message.leafIndex),
        messageId,
        batchId: batch.batchId,
        batchStatus: batch.status,
      };
    },

    async listDeadLetters(options: { readonly limit?: number } = {}): Promise<readonly DeadLetterRecord[]> {
      return journal.letters
        .slice()
        .reverse()
        .slice(0, options.limit ?? 100)
        .map((l) => ({
          id: l.id,
          topic: l.topic,
          reason: l.reason,
          detail: l.detail,
          payload: new Uint8Array(Buffer.from(l.payloadBase64, "base64")),
          receivedAt: new Date(l.receivedAt),
        }));
    },

    async close() {},
  };
}
