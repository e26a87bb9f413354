import type { BatchVerification } from "../../stores/postgres/index.js";
import { booleanFlag, parseCommandArgs, stringFlag } from "../args.js";
import { usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";

const HELP = `Usage: veep-bridge verify [--all | --batch ID] [--json] [--database-url URL]

Recomputes every message hash from raw_data (RFC 8785 canonical JSON + SHA-256), checks the leaf
positions 0..n-1 and message_count, and recomputes every batch root (RFC 9162 Merkle tree) against
the stored batch_hash. Reads one consistent snapshot through a server-side cursor.

Exits 1 and names the first failing batch and message when anything was tampered with.

Options:
  --all          verify every batch (the default)
  --batch ID     verify one batch
  --json         print one JSON object per batch and a summary line
  -h, --help     show this help

${DATABASE_HELP}`;

function describeBatch(batch: BatchVerification): string {
  const head = `${batch.ok ? "ok      " : "FAILED  "}${batch.batchId}  ${batch.status.padEnd(9)} ${batch.leafCount} messages  root ${batch.storedRoot}`;
  if (!batch.failure) return head;
  const where = batch.failure.messageId ? ` message ${batch.failure.messageId}:` : "";
  return `${head}\n        ${batch.failure.reason}:${where} ${batch.failure.detail}`;
}

/** `veep-bridge verify`. */
export const verifyCommand: Command = {
  name: "verify",
  summary: "recompute every message hash and batch root; exit 1 on tampering",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("verify", argv, {
      ...DATABASE_FLAGS,
      all: { type: "boolean" },
      batch: { type: "string" },
      json: { type: "boolean" },
    });
    const batchId = stringFlag(values, "batch")?.toLowerCase();
    if (batchId !== undefined && booleanFlag(values, "all"))
      throw usageError("give --batch ID or --all, not both", "verify");
    const json = booleanFlag(values, "json");
    const summary = await withStore(storeOptionsFrom(values), async (store) => {
      let batches = 0;
      let messages = 0;
      let firstFailure: BatchVerification | undefined;
      const uuidShaped =
        batchId === undefined ||
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(batchId);
      if (!uuidShaped) return { batches: 0, messages: 0, firstFailure: undefined };
      for await (const batch of store.verifyBatches(batchId === undefined ? {} : { batchId })) {
        batches += 1;
        messages += batch.leafCount;
        if (!batch.ok) firstFailure ??= batch;
        printLine(json ? JSON.stringify(batch) : describeBatch(batch));
      }
      return { batches, messages, firstFailure };
    });
    if (batchId !== undefined && summary.batches === 0) {
      printError(
        `veep-bridge: no batch ${batchId} — list batches with the seed's query 5.6, or run \`veep-bridge verify --all\``,
      );
      return EXIT.notFound;
    }
    const failure = summary.firstFailure?.failure;
    if (json) {
      printLine(
        JSON.stringify({
          ok: !failure,
          batches: summary.batches,
          messages: summary.messages,
          firstFailure: failure ?? null,
        }),
      );
    } else if (failure) {
      const where = failure.messageId ? `, message ${failure.messageId}` : "";
      printError(
        `verification FAILED: first failure in batch ${failure.batchId}${where}: ${failure.reason} (${failure.detail})`,
      );
    } else {
      printLine(
        `verified ${summary.batches} batch(es), ${summary.messages} message(s): every hash and root matches`,
      );
    }
    return failure ? EXIT.verificationFailed : EXIT.ok;
  },
};
