import { parseCommandArgs } from "../args.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";

const HELP = `Usage: veep-bridge proof MESSAGE_ID [--database-url URL] > proof.json

Prints the inclusion proof of one stored message as JSON:
  { "messageId", "batchId", "batchStatus", "algorithm", "messageHash", "leafIndex",
    "treeSize", "auditPath": [hex…], "root" }
"root" is the batch's stored batch_hash. Check it offline with \`veep-bridge verify-proof\` or
docs/verifier/verify_proof.py. A proof against a "pending" batch is provisional: its root changes
until the batch is sealed.

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
    const proof = await withStore(storeOptionsFrom(values), (store) => store.getProof(messageId));
    if (!proof) {
      throw new CliError(
        `no stored message ${messageId} — take a message_id from the messages table`,
        EXIT.notFound,
      );
    }
    if (proof.batchStatus === "pending") {
      printError(
        `note: batch ${proof.batchId} is still pending; this proof's root changes until it is sealed`,
      );
    }
    printLine(JSON.stringify(proof, null, 2));
    return EXIT.ok;
  },
};
