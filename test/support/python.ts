import { spawnSync } from "node:child_process";

/** Whether `python3` ≥ 3.10 (what docs/verifier/verify_proof.py needs) is on the PATH. */
export const hasPython =
  spawnSync("python3", ["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)"]).status === 0;

/**
 * Whether the Python verifier's checks run: where Python is found, and always under
 * VEEP_REQUIRE_PYTHON=1 (CI), where a missing Python must fail them rather than skip them.
 */
export const checkWithPython = hasPython || Boolean(process.env.VEEP_REQUIRE_PYTHON);
