import { EXIT, type ExitCode } from "./exit-codes.js";

/**
 * An expected failure of a command: printed as one message (no stack trace) and turned into an
 * exit code. The message says what went wrong and what to do.
 */
export class CliError extends Error {
  /** Process exit code. */
  readonly exitCode: ExitCode;

  /**
   * @param message - what went wrong and what to do
   * @param exitCode - see {@link EXIT}
   * @param options - `cause` keeps the underlying error (shown with `VEEP_DEBUG=1`)
   */
  constructor(message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** A wrong command line (exit 2); the message ends with where to find help. */
export function usageError(message: string, command?: string): CliError {
  const help = command ? `veep-bridge ${command} --help` : "veep-bridge --help";
  return new CliError(`${message}\nSee \`${help}\`.`, EXIT.usage);
}
