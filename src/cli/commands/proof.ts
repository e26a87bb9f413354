import { parseCommandArgs } from "../args.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";

const HELP = `Usage: veep-bridge proof MESSAGE_ID [--database-url URL] > proof.json

Prints the inclusion proof of one stored message as JSON:
  { "messageId", "batchId", "batchStatus", "algorithm", "messageHash", "leafIndex",
    "treeSize", "auditPath": [hex…], "root" }
"root" is the batch's stored batch_hash. An anchored batch adds
  "anchor": { "status", "signature", "slot", "memo" }
and, when its transaction anchors several batches (memo veep-bridge:v2:…), the batch's path to the
anchored root: "aggregation": { "leafIndex", "treeSize", "auditPath" }
Look the signature up on a block explorer: its memo must be "memo" above. Check the proof offline
against that memo with \`veep-bridge verify-proof proof.json --memo TEXT\` or
docs/verifier/verify_proof.py proof.json --memo TEXT. A proof against a "pending" batch is
provisional: its root changes until the batch is sealed.

Options:
  -h, --help     show this help

${DATABASE_HELP}`;

/** `veep-bridge proof`. */
export const proofCommand: Command = {
  name: "proof",
  summary: "print the inclusion proof of a message as JSON",
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs("proof", argv, DATABASE_FLAGS, 1);
    const messageId = positionals[0];
    if (!messageId) throw usageError("missing MESSAGE_ID (a messages.message_id UUID)", "proof");
    const found = await withStore(storeOptionsFrom(values), async (store) => {
      const proof = await store.getProof(messageId);
      const anchor = proof ? await store.getAnchor(proof.batchId) : null;
      return proof ? { proof, anchor } : null;
    });
    if (!found) {
      throw new CliError(
        `no stored message ${messageId} — take a message_id from the messages table (a message of a pruned batch is in its archive file)`,
        EXIT.notFound,
      );
    }
    const { proof, anchor } = found;
    if (proof.batchStatus === "pending") {
      printError(
        `note: batch ${proof.batchId} is still pending; this proof's root changes until it is sealed`,
      );
    }
    if (anchor?.status === "blockchain_pending")
      printError(`note: batch ${proof.batchId}'s anchor ${anchor.signature} is not confirmed yet`);
    const printed = anchor
      ? {
          ...proof,
          anchor: {
            status: anchor.status,
            signature: anchor.signature,
            slot: anchor.slot,
            memo: anchor.memo,
            ...(anchor.aggregation ? { aggregation: anchor.aggregation } : {}),
          },
        }
      : proof;
    printLine(JSON.stringify(printed, null, 2));
    return EXIT.ok;
  },
};
