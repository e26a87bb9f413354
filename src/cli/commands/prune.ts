import { PruneRefusedError } from "../../stores/postgres/index.js";
import { booleanFlag, cutoffFlag, parseCommandArgs } from "../args.js";
import { type Command, printError, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";

const HELP = `Usage: veep-bridge prune (--before DATE | --older-than DURATION) [--force]

Drops, oldest first, the whole message partitions (and the signature-check partitions of the same
days) that hold only readings received before the cutoff, once every batch with messages in them is
archived (\`veep-bridge archive\`). Never deletes row by row. The batches keep their rows (id, root,
count, timestamps, status, anchor), marked pruned, so proofs issued before and anchors still verify;
\`veep-bridge verify\` lists them as pruned.

Exits 1 without dropping a partition that holds a batch not archived (those before it are dropped),
unless --force.

Options:
  --before DATE            ISO 8601 date or time, e.g. 2025-12-01 (midnight UTC)
  --older-than DURATION    e.g. 365d
  --force                  drop partitions holding batches that are not archived too (their
                           messages are gone for good)
  -h, --help               show this help

${DATABASE_HELP}`;

/** \`veep-bridge prune\`. */
export const pruneCommand: Command = {
  name: "prune",
  summary: "drop whole message partitions older than a date once their batches are archived",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("prune", argv, {
      ...DATABASE_FLAGS,
      before: { type: "string" },
      "older-than": { type: "string" },
      force: { type: "boolean" },
    });
    const before = cutoffFlag("prune", values);
    const force = booleanFlag(values, "force");
    let dropped = 0;
    const refused = await withStore(storeOptionsFrom(values), async (store) => {
      try {
        await store.prune({
          before,
          force,
          onPartition: (p) => {
            dropped += 1;
            printLine(
              `pruned  ${p.name}  ${p.messages} messages of ${p.batches} batch(es), received ${p.from.toISOString()} to ${p.to.toISOString()}`,
            );
          },
        });
        return undefined;
      } catch (error) {
        if (error instanceof PruneRefusedError) return error;
        throw error;
      }
    });
    if (refused) {
      printError(`veep-bridge prune: stopped after ${dropped} partition(s): ${refused.message}`);
      return EXIT.verificationFailed;
    }
    printLine(`pruned ${dropped} partition(s) of readings received before ${before.toISOString()}`);
    return EXIT.ok;
  },
};
