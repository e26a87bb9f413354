/** One `veep-bridge` subcommand. */
export interface Command {
  /** Name typed on the command line. */
  readonly name: string;
  /** One line for `veep-bridge --help`. */
  readonly summary: string;
  /** Full text of `veep-bridge <name> --help`. */
  readonly help: string;
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/** Writes one line to standard output. */
export function printLine(text = ""): void {
  process.stdout.write(`${text}\n`);
}

/** Writes one line to standard error. */
export function printError(text: string): void {
  process.stderr.write(`${text}\n`);
}
