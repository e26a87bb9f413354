import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { memoMismatch } from "../../anchoring/memo.js";
import { IncrementalMerkleTree, sha256Hasher } from "../../hashing/index.js";
import { ARCHIVE_FORMAT, type ArchiveFile } from "./archive.js";
import { rehash } from "./proofs.js";

/** The check of one archive file. */
export interface ArchiveFileVerification {
  /** The file name. */
  readonly file: string;
  /** The batch it holds (`null` when the file is not a veep-bridge archive). */
  readonly batchId: string | null;
  /** Messages in it. */
  readonly messages: number;
  /** `true` when every message hash, the leaf positions, the count, the root and the anchor memo check out. */
  readonly ok: boolean;
  /** The first problem, when `ok` is false. */
  readonly failure?: string;
}

/** Summary of `verifyArchive`. */
export interface ArchiveVerificationReport {
  /** `true` when every file verified. */
  readonly ok: boolean;
  /** Files checked. */
  readonly files: number;
  /** Messages checked. */
  readonly messages: number;
  /** Every file's check, in file name order. */
  readonly results: readonly ArchiveFileVerification[];
}

/** The first problem of one parsed archive file, or `undefined`. */
function problemOf(archive: ArchiveFile): string | undefined {
  if (archive.format !== ARCHIVE_FORMAT)
    return `not a ${ARCHIVE_FORMAT} file (format ${String(archive.format)})`;
  const { manifest, messages } = archive;
  if (!Array.isArray(messages)) return "it has no messages list";
  const tree = new IncrementalMerkleTree(sha256Hasher);
  for (const [i, message] of messages.entries()) {
    if (message.leafIndex !== i)
      return `message ${message.messageId}: expected leaf ${i}, found ${message.leafIndex}`;
    const recomputed = rehash(message.rawData, sha256Hasher);
    if (recomputed !== message.messageHash)
      return `message ${message.messageId}: raw_data hashes to ${recomputed ?? "(not canonicalisable)"}, its hash is ${message.messageHash}`;
    tree.appendMessageHash(message.messageHash);
  }
  if (messages.length !== manifest.messageCount)
    return `the manifest states ${manifest.messageCount} messages, the file holds ${messages.length}`;
  const root = tree.rootHex();
  if (root !== manifest.batchHash)
    return `the manifest's root is ${manifest.batchHash}, the messages give ${root}`;
  if (manifest.anchor) {
    const mismatch = memoMismatch(
      manifest.anchor.memo,
      { batchId: manifest.batchId, messageCount: manifest.messageCount, root },
      manifest.anchor.aggregation,
    );
    if (mismatch !== null) return `the anchor memo does not match: ${mismatch}`;
  }
  return undefined;
}

/**
 * Verifies an archive folder written by `PostgresStore.archive` (`veep-bridge archive`) with no
 * database: in every `*.json` file, each message's hash is recomputed from its `rawData` (RFC 8785 +
 * SHA-256), the leaf positions must run 0..n−1, n must be the manifest's count, the RFC 9162 root of
 * the hashes must be the manifest's root, and an anchor memo in the manifest must name that batch,
 * count and root (through its aggregation path for a `veep-bridge:v2` memo). Checking that memo
 * against the chain is `verifyAnchors`' job (`veep-bridge verify --anchors`).
 */
export async function verifyArchive(directory: string): Promise<ArchiveVerificationReport> {
  const names = (await readdir(directory)).filter((name) => name.endsWith(".json")).sort();
  const results: ArchiveFileVerification[] = [];
  for (const file of names) {
    let archive: ArchiveFile;
    try {
      archive = JSON.parse(await readFile(join(directory, file), "utf8")) as ArchiveFile;
    } catch (error) {
      results.push({
        file,
        batchId: null,
        messages: 0,
        ok: false,
        failure: `not JSON: ${(error as Error).message}`,
      });
      continue;
    }
    let failure: string | undefined;
    try {
      failure = problemOf(archive);
    } catch (error) {
      failure = `malformed: ${(error as Error).message}`;
    }
    results.push({
      file,
      batchId: typeof archive?.manifest?.batchId === "string" ? archive.manifest.batchId : null,
      messages: Array.isArray(archive?.messages) ? archive.messages.length : 0,
      ok: failure === undefined,
      ...(failure === undefined ? {} : { failure }),
    });
  }
  return {
    ok: results.every((r) => r.ok),
    files: results.length,
    messages: results.reduce((n, r) => n + r.messages, 0),
    results,
  };
}
