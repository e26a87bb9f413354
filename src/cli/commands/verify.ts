import { type AnchoredBatch, type AnchorVerification, verifyAnchors } from "../../anchoring/index.js";
import { type BatchVerification, verifyArchive } from "../../stores/postgres/index.js";
import { booleanFlag, parseCommandArgs, stringFlag } from "../args.js";
import { usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";
import { loadSolana, rpcHost, SOLANA_FLAGS, SOLANA_HELP, solanaSettings } from "../solana.js";

const HELP = `Usage: veep-bridge verify [--all | --batch ID] [--anchors] [--json] [--database-url URL]
       veep-bridge verify --archive DIR [--json]

Recomputes every message hash from raw_data (RFC 8785 canonical JSON + SHA-256), checks the leaf
positions 0..n-1 and message_count, and recomputes every batch root (RFC 9162 Merkle tree) against
the stored batch_hash. Checks every stored device signature again: a reading recorded as validly
signed must verify (from raw_data, docs/hashing.md section 6) with the key it was checked with, and
device_signature must be raw_data's signature member. Reads one consistent snapshot through a
server-side cursor.

With --anchors it also reads each anchored (blockchain_confirmed) batch's transaction from the
chain and checks that its memo names the stored root and message count: whoever rewrites a reading
and recomputes every hash and root in the database still fails this check.

A batch whose messages were pruned after archiving is listed as pruned (its row is kept; its file
is checked with --archive), not as a failure.

With --archive DIR it checks archive files alone, with no database: in each DIR/*.json written by
\`veep-bridge archive\`, every message hash from its raw_data, the leaf positions, the count, the
root, and the anchor memo against them.

Exits 1 and names the first failing batch and message when anything was tampered with.

Options:
  --all          verify every batch (the default)
  --batch ID     verify one batch
  --anchors      also check every anchored batch against its memo on chain (needs --rpc-url or
                 SOLANA_RPC_URL; no keypair)
  --archive DIR  check the archive files in DIR instead of the database
  --json         print one JSON object per batch and a summary line
  -h, --help     show this help

${SOLANA_HELP}

${DATABASE_HELP}`;

function describeAnchor(result: AnchorVerification): string {
  const head = `${result.ok ? "anchor ok      " : "anchor FAILED  "}${result.batchId}  slot ${result.slot ?? "?"}  ${result.signature}`;
  return result.ok ? head : `${head}\n        ${result.failure}`;
}

function describeBatch(batch: BatchVerification): string {
  if (batch.prunedAt !== null)
    return `pruned  ${batch.batchId}  ${batch.status.padEnd(9)} ${batch.messageCount} messages  root ${batch.storedRoot}  (messages pruned ${batch.prunedAt.toISOString()}${batch.archiveFile ? `, archived as ${batch.archiveFile}` : ""})`;
  const head = `${batch.ok ? "ok      " : "FAILED  "}${batch.batchId}  ${batch.status.padEnd(9)} ${batch.leafCount} messages  root ${batch.storedRoot}`;
  if (!batch.failure) return head;
  const where = batch.failure.messageId ? ` message ${batch.failure.messageId}:` : "";
  return `${head}\n        ${batch.failure.reason}:${where} ${batch.failure.detail}`;
}

/** `veep-bridge verify`. */
export const verifyCommand: Command = {
  name: "verify",
  summary: "recompute every message hash and batch root, re-check device signatures; exit 1 on tampering",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("verify", argv, {
      ...DATABASE_FLAGS,
      all: { type: "boolean" },
      batch: { type: "string" },
      json: { type: "boolean" },
      anchors: { type: "boolean" },
      archive: { type: "string" },
      ...SOLANA_FLAGS,
    });
    const archive = stringFlag(values, "archive");
    if (archive !== undefined) return verifyArchiveFolder(archive, booleanFlag(values, "json"));
    const checkAnchors = booleanFlag(values, "anchors");
    const settings = checkAnchors ? solanaSettings("verify", values, process.env) : undefined;
    const solana = settings ? await loadSolana() : undefined;
    const batchId = stringFlag(values, "batch")?.toLowerCase();
    if (batchId !== undefined && booleanFlag(values, "all"))
      throw usageError("give --batch ID or --all, not both", "verify");
    const json = booleanFlag(values, "json");
    const summary = await withStore(storeOptionsFrom(values), async (store) => {
      let batches = 0;
      let messages = 0;
      let pruned = 0;
      let firstFailure: BatchVerification | undefined;
      let signaturesChecked = 0;
      let signaturesFlagged = 0;
      const uuidShaped =
        batchId === undefined ||
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(batchId);
      if (!uuidShaped) {
        return {
          batches: 0,
          messages: 0,
          pruned,
          firstFailure: undefined,
          signaturesChecked,
          signaturesFlagged,
          anchors: 0,
          anchorFailure: undefined,
        };
      }
      for await (const batch of store.verifyBatches(batchId === undefined ? {} : { batchId })) {
        batches += 1;
        messages += batch.leafCount;
        signaturesChecked += batch.signaturesChecked;
        signaturesFlagged += batch.signaturesFlagged;
        if (batch.prunedAt !== null) pruned += 1;
        if (!batch.ok) firstFailure ??= batch;
        printLine(json ? JSON.stringify(batch) : describeBatch(batch));
      }
      let anchors = 0;
      let anchorFailure: AnchorVerification | undefined;
      if (settings && solana) {
        const reader = solana.solanaReader({ rpcUrl: settings.rpcUrl, commitment: settings.commitment });
        if (!json) printLine(`checking anchors on ${rpcHost(settings.rpcUrl)}:`);
        const ledger =
          batchId === undefined ? store : { listAnchors: () => onlyBatch(store.listAnchors(), batchId) };
        for await (const result of verifyAnchors(ledger, reader)) {
          anchors += 1;
          if (!result.ok) anchorFailure ??= result;
          printLine(json ? JSON.stringify({ anchor: result }) : describeAnchor(result));
        }
      }
      return {
        batches,
        messages,
        pruned,
        firstFailure,
        signaturesChecked,
        signaturesFlagged,
        anchors,
        anchorFailure,
      };
    });
    if (batchId !== undefined && summary.batches === 0) {
      printError(
        `veep-bridge: no batch ${batchId} — list the most recent batches with PostgresStore.getRecentBatches(), or run \`veep-bridge verify --all\``,
      );
      return EXIT.notFound;
    }
    const failure = summary.firstFailure?.failure;
    const anchorFailure = summary.anchorFailure;
    if (json) {
      printLine(
        JSON.stringify({
          ok: !failure && !anchorFailure,
          batches: summary.batches,
          messages: summary.messages,
          prunedBatches: summary.pruned,
          signaturesChecked: summary.signaturesChecked,
          signaturesFlagged: summary.signaturesFlagged,
          firstFailure: failure ?? null,
          ...(checkAnchors ? { anchors: summary.anchors, firstAnchorFailure: anchorFailure ?? null } : {}),
        }),
      );
    } else {
      if (failure) {
        const where = failure.messageId ? `, message ${failure.messageId}` : "";
        printError(
          `verification FAILED: first failure in batch ${failure.batchId}${where}: ${failure.reason} (${failure.detail})`,
        );
      } else {
        const signed =
          summary.signaturesChecked + summary.signaturesFlagged === 0
            ? ""
            : `; ${summary.signaturesChecked} device signature(s) verify${
                summary.signaturesFlagged > 0
                  ? `, ${summary.signaturesFlagged} message(s) were stored with a missing or bad signature`
                  : ""
              }`;
        const prunedNote =
          summary.pruned === 0
            ? ""
            : ` (${summary.pruned} of them pruned after archiving: check their files with --archive)`;
        printLine(
          `verified ${summary.batches} batch(es)${prunedNote}, ${summary.messages} message(s): every hash and root matches${signed}`,
        );
      }
      if (anchorFailure) {
        printError(
          `anchor verification FAILED: batch ${anchorFailure.batchId}: ${anchorFailure.failure} (transaction ${anchorFailure.signature})`,
        );
      } else if (checkAnchors) {
        printLine(
          `checked ${summary.anchors} anchor(s) on chain: every memo names the stored root and count`,
        );
      }
    }
    return failure || anchorFailure ? EXIT.verificationFailed : EXIT.ok;
  },
};

/** `verify --archive DIR`: the archive files alone. */
async function verifyArchiveFolder(directory: string, json: boolean): Promise<number> {
  const report = await verifyArchive(directory).catch((error: unknown) => {
    throw usageError(`cannot read the archive folder ${directory}: ${(error as Error).message}`, "verify");
  });
  for (const result of report.results) {
    if (json) printLine(JSON.stringify(result));
    else if (result.ok) printLine(`ok      ${result.batchId}  ${result.messages} messages  ${result.file}`);
    else printError(`FAILED  ${result.file}: ${result.failure}`);
  }
  if (json) printLine(JSON.stringify({ ok: report.ok, files: report.files, messages: report.messages }));
  else if (report.ok)
    printLine(
      `verified ${report.files} archive file(s), ${report.messages} message(s): every hash, root and memo matches`,
    );
  else
    printError(
      `archive verification FAILED: ${report.results.filter((r) => !r.ok).length} of ${report.files} file(s)`,
    );
  return report.ok ? EXIT.ok : EXIT.verificationFailed;
}

/** The anchors of one batch: the others are not read back from the chain. */
async function* onlyBatch(
  anchors: AsyncIterable<AnchoredBatch>,
  batchId: string,
): AsyncGenerator<AnchoredBatch> {
  for await (const anchored of anchors) if (anchored.batchId === batchId) yield anchored;
}
