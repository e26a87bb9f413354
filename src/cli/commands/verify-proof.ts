import { type InclusionProof, type JsonValue, messageHash, verifyInclusion } from "../../index.js";
import { booleanFlag, parseCommandArgs, positiveIntegerFlag, stringFlag } from "../args.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { EXIT } from "../exit-codes.js";
import { parseJsonInput, readTextInput } from "../read-input.js";

const HELP = `Usage: veep-bridge verify-proof FILE|- [--root HEX] [--tree-size N] [--payload FILE] [--json]

Checks an inclusion proof offline (no database): the leaf SHA-256(0x00 || messageHash) folded with
the audit path as RFC 9162 section 2.1.3.2 prescribes must give the proof's root. Reads the JSON
printed by \`veep-bridge proof\` from FILE, or from standard input with -.

Give the trusted values you got elsewhere (e.g. the anchored batch hash) so the proof's own claims
are checked against them:
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
      },
      1,
    );
    const file = positionals[0];
    if (!file) throw usageError("missing FILE (a proof JSON file, or - for standard input)", "verify-proof");
    const root = stringFlag(values, "root")?.toLowerCase();
    if (root !== undefined && !/^(?:[0-9a-f]{2})+$/.test(root)) {
      throw usageError("--root must be the batch root in hexadecimal", "verify-proof");
    }
    const treeSize = positiveIntegerFlag("verify-proof", "--tree-size", stringFlag(values, "tree-size"));
    const payloadPath = stringFlag(values, "payload");
    const proof = asProof(parseJsonInput(await readTextInput(file), file === "-" ? "standard input" : file));
    const problems: string[] = [];
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
      if (root === undefined)
        printLine(
          "(checked against the proof's own root; pass --root with the anchored batch hash to trust it)",
        );
    } else {
      for (const problem of problems) printError(`proof does NOT hold: ${problem}`);
    }
    return ok ? EXIT.ok : EXIT.verificationFailed;
  },
};
