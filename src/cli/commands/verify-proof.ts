import type { JsonValue } from "../../index.js";
import {
  type AnchorAggregation,
  type InclusionProof,
  memoMismatch,
  messageHash,
  parseAggregateMemo,
  parseAnchorMemo,
  verifyInclusion,
} from "../../verify.js";
import { booleanFlag, parseCommandArgs, positiveIntegerFlag, stringFlag } from "../args.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { EXIT } from "../exit-codes.js";
import { parseJsonInput, readTextInput } from "../read-input.js";

const HELP = `Usage: veep-bridge verify-proof FILE|- [--memo TEXT] [--root HEX] [--tree-size N] [--payload FILE] [--json]

Checks an inclusion proof offline (no database): the leaf SHA-256(0x00 || messageHash) folded with
the audit path as RFC 9162 section 2.1.3.2 prescribes must give the proof's root. Reads the JSON
printed by \`veep-bridge proof\` from FILE, or from standard input with -.

Give the trusted values you got elsewhere (e.g. the anchored batch hash) so the proof's own claims
are checked against them:
  --memo TEXT      the memo of the batch's anchor transaction, as a block explorer shows it:
                   veep-bridge:v1:<batchId>:<messageCount>:<rootHex> (one batch): the proof must be
                   for that batch and lead to that root with that message count;
                   veep-bridge:v2:<batchCount>:<rootHex> (several batches): the proof must lead to its
                   batch root, and that batch (id, count, root), with the proof's
                   anchor.aggregation path, to the memo's root
  --root HEX       the trusted batch root; the proof must lead to it
  --tree-size N    the trusted message count of the batch
  --payload FILE   the reading's JSON payload; its hash (RFC 8785 + SHA-256) must be messageHash
  --json           print {"ok": …, …} instead of a sentence
  -h, --help       show this help

Exits 0 when the proof holds, 1 when it does not.`;

const FIELDS = ["algorithm", "messageHash", "leafIndex", "treeSize", "auditPath", "root"] as const;

function asProof(value: unknown): InclusionProof {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError("the input is not a proof: expected a JSON object", EXIT.verificationFailed);
  }
  const missing = FIELDS.filter((field) => !(field in value));
  if (missing.length > 0) {
    throw new CliError(`the input is not a proof: missing ${missing.join(", ")}`, EXIT.verificationFailed);
  }
  return value as InclusionProof;
}

/** The proof's `anchor.aggregation` when it has the right shape, else `null`. */
function asAggregation(value: unknown): AnchorAggregation | null {
  const a = value as Partial<AnchorAggregation> | null | undefined;
  if (
    typeof a !== "object" ||
    a === null ||
    !Number.isSafeInteger(a.leafIndex) ||
    !Number.isSafeInteger(a.treeSize) ||
    !Array.isArray(a.auditPath) ||
    !a.auditPath.every((hash) => typeof hash === "string")
  )
    return null;
  return a as AnchorAggregation;
}

async function payloadHash(path: string): Promise<string> {
  const payload = parseJsonInput(await readTextInput(path), path) as JsonValue;
  return messageHash(payload);
}

/** `veep-bridge verify-proof`. */
export const verifyProofCommand: Command = {
  name: "verify-proof",
  summary: "check an inclusion proof offline, without a database",
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      "verify-proof",
      argv,
      {
        root: { type: "string" },
        "tree-size": { type: "string" },
        payload: { type: "string" },
        json: { type: "boolean" },
        memo: { type: "string" },
      },
      1,
    );
    const file = positionals[0];
    if (!file) throw usageError("missing FILE (a proof JSON file, or - for standard input)", "verify-proof");
    const memoText = stringFlag(values, "memo")?.trim();
    const memo = memoText === undefined ? undefined : parseAnchorMemo(memoText);
    const aggregate = memoText === undefined ? undefined : parseAggregateMemo(memoText);
    if (memo === null && aggregate === null)
      throw usageError(
        "--memo must be a veep-bridge anchor memo: veep-bridge:v1:<batchId>:<messageCount>:<rootHex> " +
          "or veep-bridge:v2:<batchCount>:<rootHex>",
        "verify-proof",
      );
    let root = stringFlag(values, "root")?.toLowerCase();
    if (root !== undefined && !/^(?:[0-9a-f]{2})+$/.test(root)) {
      throw usageError("--root must be the batch root in hexadecimal", "verify-proof");
    }
    let treeSize = positiveIntegerFlag("verify-proof", "--tree-size", stringFlag(values, "tree-size"));
    const payloadPath = stringFlag(values, "payload");
    const proof = asProof(parseJsonInput(await readTextInput(file), file === "-" ? "standard input" : file));
    const problems: string[] = [];
    if (memo) {
      const batchId = (proof as { batchId?: unknown }).batchId;
      if (typeof batchId === "string" && batchId.toLowerCase() !== memo.batchId)
        problems.push(`the memo anchors batch ${memo.batchId}, the proof is for batch ${batchId}`);
      if (root !== undefined && root !== memo.root) problems.push("--root differs from the memo's root");
      if (treeSize !== undefined && treeSize !== memo.messageCount)
        problems.push("--tree-size differs from the memo's message count");
      root = memo.root;
      treeSize = memo.messageCount;
    }
    if (aggregate && memoText !== undefined) {
      const { batchId, anchor } = proof as { batchId?: unknown; anchor?: { aggregation?: unknown } };
      if (typeof batchId !== "string")
        problems.push("the proof names no batch (batchId), which a v2 memo needs");
      else {
        const mismatch = memoMismatch(
          memoText,
          { batchId, messageCount: proof.treeSize, root: proof.root },
          asAggregation(anchor?.aggregation),
        );
        if (mismatch !== null) problems.push(mismatch);
      }
      if (root !== undefined && root !== proof.root)
        problems.push("--root differs from the proof's batch root");
      if (treeSize !== undefined && treeSize !== proof.treeSize)
        problems.push("--tree-size differs from the proof's message count");
      root = proof.root;
      treeSize = proof.treeSize;
    }
    if (payloadPath !== undefined) {
      const hash = await payloadHash(payloadPath);
      if (hash !== proof.messageHash)
        problems.push(`the payload hashes to ${hash}, the proof is for ${String(proof.messageHash)}`);
    }
    const holds = verifyInclusion(proof, {
      ...(root !== undefined ? { root } : {}),
      ...(treeSize !== undefined ? { treeSize } : {}),
    });
    if (!holds) {
      problems.push(
        root !== undefined || treeSize !== undefined
          ? "the audit path does not lead to the trusted root and tree size"
          : "the audit path does not lead to the proof's root",
      );
    }
    const ok = problems.length === 0;
    if (booleanFlag(values, "json")) {
      printLine(
        JSON.stringify({
          ok,
          messageHash: proof.messageHash,
          leafIndex: proof.leafIndex,
          treeSize: proof.treeSize,
          root: proof.root,
          problems,
        }),
      );
    } else if (ok) {
      printLine(
        `proof holds: message ${proof.messageHash} is leaf ${proof.leafIndex} of ${proof.treeSize} under root ${proof.root}`,
      );
      if (memo)
        printLine(`the root and message count are the ones anchored on chain for batch ${memo.batchId}`);
      else if (aggregate)
        printLine(
          `the batch's id, message count and root lead to the root anchored on chain for ${aggregate.batchCount} batches`,
        );
      else if (root === undefined)
        printLine(
          "(checked against the proof's own root; pass --memo with the anchor's memo from a block explorer, or --root, to trust it)",
        );
    } else {
      for (const problem of problems) printError(`proof does NOT hold: ${problem}`);
    }
    return ok ? EXIT.ok : EXIT.verificationFailed;
  },
};
