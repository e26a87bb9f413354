import { createDatabase } from "../../stores/postgres/index.js";
import { booleanFlag, parseCommandArgs } from "../args.js";
import { type Command, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { describeError } from "../describe-error.js";
import { EXIT } from "../exit-codes.js";
import { databaseTarget } from "../targets.js";

const HELP = `Usage: veep-bridge migrate [--seed] [--create-database] [--database-url URL]

Applies the pending SQL migrations (schema, leaf positions, de-duplication, dead letters) in one
transaction under an advisory lock. Safe to run from several processes; a no-op when up to date.

Options:
  --seed               also apply 002_seed_data.sql (three sample devices)
  --create-database    create the database first when it does not exist (needs CREATEDB)
  -h, --help           show this help

${DATABASE_HELP}`;

/** `veep-bridge migrate`. */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "apply the database migrations (--seed adds three sample devices)",
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs("migrate", argv, {
      ...DATABASE_FLAGS,
      seed: { type: "boolean" },
      "create-database": { type: "boolean" },
    });
    const options = storeOptionsFrom(values);
    if (booleanFlag(values, "create-database")) {
      try {
        const target = databaseTarget(options);
        const created = await createDatabase(options);
        printLine(created ? `created database "${target.database}"` : `database "${target.database}" exists`);
      } catch (error) {
        throw describeError(error, { database: databaseTarget(options) });
      }
    }
    const result = await withStore(options, (store) => store.migrate({ seed: booleanFlag(values, "seed") }));
    for (const name of result.applied) printLine(`applied ${name}`);
    printLine(
      result.applied.length === 0
        ? `database is up to date (${result.alreadyApplied.length} migrations applied earlier)`
        : `${result.applied.length} migration(s) applied, ${result.alreadyApplied.length} already applied`,
    );
    return EXIT.ok;
  },
};
