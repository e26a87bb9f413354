import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cleanEnv, REPO_ROOT, runCli, start } from "./support/process.js";

const COMMANDS = ["run", "migrate", "verify", "proof", "verify-proof", "devices", "demo"];

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address ? address.port : 1;
}

const noStackTrace = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);

describe("veep-bridge command line", () => {
  it("--help lists every command and the exit codes", async () => {
    const result = await runCli(["--help"]);
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toContain(`  ${command} `);
    expect(result.stdout).toMatch(/Exit codes:[\s\S]*0 +success[\s\S]*1 +verification failed[\s\S]*2 +usage/);
  });

  it.each(COMMANDS)("%s --help prints its usage and exits 0", async (command) => {
    const result = await runCli([command, "--help"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: veep-bridge ${command}`));
  });

  it("npx veep-bridge --help works in a clone, without npm run build", async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as {
      bin: Record<string, string>;
    };
    const bin = pkg.bin["veep-bridge"] ?? "";
    expect(bin).not.toMatch(/^(\.\/)?dist\//);
    // A cache of its own: npx remembers the bin links of a project it ran before.
    const cache = await mkdtemp(join(tmpdir(), "veep-npx-cache-"));
    try {
      const npx = start(
        "npx",
        ["--no-install", "veep-bridge", "--help"],
        cleanEnv({ npm_config_cache: cache }),
      );
      const { code } = await npx.exited;
      expect(code, npx.stderr()).toBe(0);
      expect(npx.stdout()).toMatch(/^veep-bridge \S+ — move IoT readings/);
      for (const command of COMMANDS) expect(npx.stdout()).toContain(`  ${command} `);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  }, 60_000);

  it("--version prints the package version", async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    const result = await runCli(["--version"]);
    expect(result).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it("exits 2 on no command, an unknown command, an unknown flag or a missing argument", async () => {
    expect((await runCli([])).code).toBe(2);
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"[\s\S]*veep-bridge --help/);
    const flag = await runCli(["verify", "--bogus"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--bogus[\s\S]*veep-bridge verify --help/);
    const missing = await runCli(["proof"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing MESSAGE_ID/);
    noStackTrace(missing.stderr);
  });

  it("exits 3 naming the server, without the password or a stack trace, when PostgreSQL is unreachable", async () => {
    const port = await closedPort();
    for (const args of [["verify"], ["migrate"], ["proof", "00000000-0000-4000-8000-000000000000"]]) {
      const result = await runCli(
        args,
        cleanEnv({ DATABASE_URL: `postgres://bridge:s3cret-pw@127.0.0.1:${port}/veep` }),
      );
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(`cannot reach PostgreSQL at 127.0.0.1:${port} — set DATABASE_URL`);
      expect(result.stderr + result.stdout).not.toContain("s3cret-pw");
      noStackTrace(result.stderr);
    }
  });

  it("reads DATABASE_HOST and DATABASE_PORT when DATABASE_URL is not set", async () => {
    const port = await closedPort();
    const result = await runCli(
      ["verify"],
      cleanEnv({ DATABASE_HOST: "127.0.0.1", DATABASE_PORT: String(port), DATABASE_PASSWORD: "hidden-pw" }),
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`cannot reach PostgreSQL at 127.0.0.1:${port}`);
    expect(result.stderr).not.toContain("hidden-pw");
  });

  it("exits 3 on an invalid config file or environment variable, naming it", async () => {
    const file = join(tmpdir(), `veep-config-${process.pid}.json`);
    await writeFile(file, JSON.stringify({ databaseUrl: "postgres://x@127.0.0.1/x", batchSize: 10 }));
    const unknownKey = await runCli(["run", "--config", file]).finally(() => rm(file, { force: true }));
    expect(unknownKey.code).toBe(3);
    expect(unknownKey.stderr).toMatch(/config file .*unknown key "batchSize"/);
    const badEnv = await runCli(["run"], cleanEnv({ VEEP_BATCH_MAX_MESSAGES: "lots" }));
    expect(badEnv.code).toBe(3);
    expect(badEnv.stderr).toMatch(/VEEP_BATCH_MAX_MESSAGES must be a positive integer/);
    const badOption = await runCli(["run", "--mqtt-url", "http://example.com"]);
    expect(badOption.code).toBe(3);
    expect(badOption.stderr).toMatch(/Invalid option `url`/);
  });

  it("verify-proof exits 1 on input that is not a proof, and 2 on a missing file", async () => {
    const notProof = await runCli(["verify-proof", "-"], cleanEnv(), '{"hello":1}');
    expect(notProof.code).toBe(1);
    expect(notProof.stderr).toMatch(/not a proof: missing algorithm/);
    const missing = await runCli(["verify-proof", "/nonexistent/proof.json"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read \/nonexistent\/proof\.json/);
  });
});
