#!/usr/bin/env node
/**
 * Entry point of the `veep-bridge` command (package `bin`): runs {@link runCli} and exits with its code.
 *
 * @packageDocumentation
 */
import { runCli } from "./cli.js";

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Exit even if a library left a handle open; unref'ed, so a clean run exits at once.
  setTimeout(() => process.exit(code), 3000).unref();
});
