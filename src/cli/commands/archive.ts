import { cutoffFlag, parseCommandArgs, positiveIntegerFlag, stringFlag } from "../args.js";
import { usageError } from "../cli-error.js";
import { type Command, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";

const HELP = `Usage: veep-bridge archive --to DIR (--before DATE | --older-than DURATION) [--limit N]

Writes every sealed batch whose last reading was received before the cutoff, and that is not archived
yet, to DIR/<batch_id>.json: each message with its leaf index, message hash and raw_data, and a
manifest with the batch's root, message count and anchor. Each file is flushed to disk before it is
recorded (batches.archived_at, archive_file). Check the files with \`veep-bridge verify --archive DIR\`
(no database needed); then \`veep-bridge prune\` may drop the messages.

Options:
  --to DIR                 the archive folder (created if missing)
  --before DATE            ISO 8601 date or time, e.g. 2026-09-01 (midnight UTC)
  --older-than DURATION    e.g. 90d: batches whose last reading is older than that
  --limit N                archive at most N batches in this run
  -h, --help               show this help

${DATABASE_HELP}`;

/** \`veep-bridge archive\`. */
export const archiveCommand: Command = {
  name: "archive",
  summary: "write sealed batches older than a date to files, each with its messages, root and anchor",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("archive", argv, {
      ...DATABASE_FLAGS,
      to: { type: "string" },
      before: { type: "string" },
      "older-than": { type: "string" },
      limit: { type: "string" },
    });
    const directory = stringFlag(values, "to");
    if (!directory) throw usageError("give the archive folder: --to DIR", "archive");
    const before = cutoffFlag("archive", values);
    const limit = positiveIntegerFlag("archive", "--limit", stringFlag(values, "limit"));
    const archived = await withStore(storeOptionsFrom(values), (store) =>
      store.archive({
        before,
        directory,
        ...(limit !== undefined ? { limit } : {}),
        onBatch: (batch) =>
          printLine(`archived  ${batch.batchId}  ${batch.messageCount} messages  ${batch.file}`),
      }),
    );
    const messages = archived.reduce((n, b) => n + b.messageCount, 0);
    printLine(
      `archived ${archived.length} batch(es), ${messages} message(s) received before ${before.toISOString()} to ${directory}`,
    );
    return EXIT.ok;
  },
};
