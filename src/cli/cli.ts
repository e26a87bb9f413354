import { type CliError, usageError } from "./cli-error.js";
import { type Command, printError, printLine } from "./command.js";
import { anchorCommand } from "./commands/anchor.js";
import { archiveCommand } from "./commands/archive.js";
import { demoCommand } from "./commands/demo.js";
import { devicesCommand } from "./commands/devices.js";
import { migrateCommand } from "./commands/migrate.js";
import { proofCommand } from "./commands/proof.js";
import { pruneCommand } from "./commands/prune.js";
import { retentionCommand } from "./commands/retention.js";
import { runCommand } from "./commands/run.js";
import { verifyCommand } from "./commands/verify.js";
import { verifyProofCommand } from "./commands/verify-proof.js";
import { describeError } from "./describe-error.js";
import { EXIT, EXIT_CODES_HELP } from "./exit-codes.js";
import { packageVersion } from "./version.js";

const COMMANDS: readonly Command[] = [
  runCommand,
  migrateCommand,
  verifyCommand,
  proofCommand,
  verifyProofCommand,
  devicesCommand,
  anchorCommand,
  archiveCommand,
  pruneCommand,
  retentionCommand,
  demoCommand,
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n");
  return `veep-bridge ${packageVersion()} — move IoT readings from MQTT into PostgreSQL with a tamper-evident trail

Usage: veep-bridge <command> [options]

Commands:
${list}

Options:
  -h, --help     show help (also after a command: veep-bridge run --help)
  -v, --version  print the version

${EXIT_CODES_HELP}`;
}

function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  const flags = end < 0 ? argv : argv.slice(0, end);
  return flags.includes("--help") || flags.includes("-h");
}

function report(error: CliError): void {
  printError(`veep-bridge: ${error.message}`);
  if (process.env.VEEP_DEBUG && error.cause instanceof Error)
    printError(error.cause.stack ?? String(error.cause));
}

/** Runs the command line `argv` (without `node` and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    printLine(mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    printLine(packageVersion());
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw usageError(`unknown command "${name}"`);
    if (wantsHelp(rest)) {
      printLine(command.help);
      return EXIT.ok;
    }
    return await command.run(rest);
  } catch (error) {
    const described = describeError(error);
    report(described);
    return described.exitCode;
  }
}
