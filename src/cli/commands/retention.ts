import { PruneRefusedError } from "../../stores/postgres/index.js";
import { booleanFlag, durationFlag, parseCommandArgs, stringFlag } from "../args.js";
import { usageError } from "../cli-error.js";
import { type Command, printError, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";
import { pause } from "../pause.js";
import { waitForShutdownSignal } from "../signals.js";

const DAY = 86_400_000;

const HELP = `Usage: veep-bridge retention --to DIR [--archive-after 90d] [--delete-after 365d] [--watch [--interval 1h]]

Retention as one command: archive the sealed batches whose last reading is older
than --archive-after to DIR (as \`veep-bridge archive\`), then drop the message partitions older
than --delete-after whose batches are all archived (as \`veep-bridge prune\`, never --force). The
SQL function archive_old_batches(archive_after, delete_after) lists what is due without changing
anything.

Options:
  --to DIR                  the archive folder
  --archive-after DURATION  archive batches older than this (default 90d)
  --delete-after DURATION   drop partitions older than this once archived (default 365d)
  --watch                   run again every --interval until SIGINT/SIGTERM
  --interval DURATION       time between runs with --watch (default 1h)
  -h, --help                show this help

${DATABASE_HELP}`;

/** \`veep-bridge retention\`. */
export const retentionCommand: Command = {
  name: "retention",
  summary: "archive batches older than 90 days and drop partitions older than a year (defaults)",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("retention", argv, {
      ...DATABASE_FLAGS,
      to: { type: "string" },
      "archive-after": { type: "string" },
      "delete-after": { type: "string" },
      watch: { type: "boolean" },
      interval: { type: "string" },
    });
    const directory = stringFlag(values, "to");
    if (!directory) throw usageError("give the archive folder: --to DIR", "retention");
    const archiveAfter =
      durationFlag("retention", "--archive-after", stringFlag(values, "archive-after")) ?? 90 * DAY;
    const deleteAfter =
      durationFlag("retention", "--delete-after", stringFlag(values, "delete-after")) ?? 365 * DAY;
    if (deleteAfter < archiveAfter)
      throw usageError("--delete-after must not be shorter than --archive-after", "retention");
    const watch = booleanFlag(values, "watch");
    const intervalMs = durationFlag("retention", "--interval", stringFlag(values, "interval")) ?? 3_600_000;
    const stop = new AbortController();
    if (watch) void waitForShutdownSignal(() => process.exit(EXIT.interrupted)).then(() => stop.abort());
    let refused = false;
    await withStore(storeOptionsFrom(values), async (store) => {
      do {
        const now = Date.now();
        const archived = await store.archive({ before: new Date(now - archiveAfter), directory });
        let pruned = 0;
        try {
          pruned = (await store.prune({ before: new Date(now - deleteAfter) })).length;
        } catch (error) {
          if (!(error instanceof PruneRefusedError)) throw error;
          refused = true;
          printError(`veep-bridge retention: ${error.message}`);
        }
        printLine(
          `${new Date().toISOString()} retention: archived ${archived.length} batch(es) to ${directory}, pruned ${pruned} partition(s)`,
        );
        if (!watch) break;
        await pause(intervalMs, stop.signal);
      } while (!stop.signal.aborted);
    });
    return refused ? EXIT.verificationFailed : EXIT.ok;
  },
};
