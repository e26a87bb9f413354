import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/cli-error.js";
import { resolveRunConfig } from "../../src/cli/run-config.js";

describe("run configuration: the metrics endpoint", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "veep-run-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is off unless a port is given", async () => {
    expect((await resolveRunConfig({}, {})).metrics).toBeUndefined();
    expect((await resolveRunConfig({}, { VEEP_METRICS_HOST: "127.0.0.1" })).metrics).toBeUndefined();
  });

  it("binds 0.0.0.0 by default; flags beat the config file, which beats the environment", async () => {
    expect((await resolveRunConfig({}, { VEEP_METRICS_PORT: "9464" })).metrics).toEqual({
      port: 9464,
      host: "0.0.0.0",
    });
    const config = join(dir, "metrics.json");
    await writeFile(config, JSON.stringify({ metrics: { port: 9000, host: "127.0.0.1" } }));
    const env = { VEEP_METRICS_PORT: "9464", VEEP_METRICS_HOST: "10.0.0.1" };
    expect((await resolveRunConfig({ config }, env)).metrics).toEqual({ port: 9000, host: "127.0.0.1" });
    expect((await resolveRunConfig({ config, "metrics-port": "0" }, env)).metrics).toEqual({
      port: 0,
      host: "127.0.0.1",
    });
    expect((await resolveRunConfig({ "metrics-host": "::1" }, env)).metrics).toEqual({
      port: 9464,
      host: "::1",
    });
  });

  it("refuses a port outside 0–65535 with the exit code of its origin", async () => {
    const flag = resolveRunConfig({ "metrics-port": "65536" }, {});
    await expect(flag).rejects.toThrow(CliError);
    await expect(flag).rejects.toMatchObject({ exitCode: 2 });
    await expect(resolveRunConfig({}, { VEEP_METRICS_PORT: "-1" })).rejects.toMatchObject({ exitCode: 3 });
    const config = join(dir, "bad-port.json");
    await writeFile(config, JSON.stringify({ metrics: { port: 1.5 } }));
    await expect(resolveRunConfig({ config }, {})).rejects.toThrow(/"metrics\.port" must be a TCP port/);
  });
});

describe("run configuration: the signature policy", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "veep-run-config-sig-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("rejects by default; flags beat the config file, which beats the environment", async () => {
    expect((await resolveRunConfig({}, {})).signatures).toBe("reject");
    expect((await resolveRunConfig({}, { VEEP_SIGNATURES: "off" })).signatures).toBe("off");
    const config = join(dir, "store.json");
    await writeFile(config, JSON.stringify({ signatures: "store" }));
    expect((await resolveRunConfig({ config }, { VEEP_SIGNATURES: "off" })).signatures).toBe("store");
    expect((await resolveRunConfig({ config, signatures: "reject" }, {})).signatures).toBe("reject");
  });

  it("refuses another value with the exit code of its origin", async () => {
    await expect(resolveRunConfig({ signatures: "maybe" }, {})).rejects.toMatchObject({ exitCode: 2 });
    await expect(resolveRunConfig({}, { VEEP_SIGNATURES: "yes" })).rejects.toMatchObject({ exitCode: 3 });
    const config = join(dir, "bad.json");
    await writeFile(config, JSON.stringify({ signatures: false }));
    await expect(resolveRunConfig({ config }, {})).rejects.toThrow(/"signatures" must be a string/);
    await writeFile(config, JSON.stringify({ signatures: "drop" }));
    await expect(resolveRunConfig({ config }, {})).rejects.toThrow(
      /"signatures" must be "reject", "store" or "off"/,
    );
  });
});

describe("run configuration: the partition interval", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "veep-run-config-part-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is left to the database unless given; the flag beats the file, which keeps its other partition options", async () => {
    expect((await resolveRunConfig({}, {})).postgres.partitions).toBeUndefined();
    expect((await resolveRunConfig({}, { VEEP_PARTITION_INTERVAL: "hour" })).postgres.partitions).toEqual({
      interval: "hour",
    });
    const config = join(dir, "partitions.json");
    await writeFile(config, JSON.stringify({ postgres: { partitions: { interval: "week", lookback: 2 } } }));
    const env = { VEEP_PARTITION_INTERVAL: "hour" };
    expect((await resolveRunConfig({ config }, env)).postgres.partitions).toEqual({
      interval: "week",
      lookback: 2,
    });
    expect(
      (await resolveRunConfig({ config, "partition-interval": "day" }, env)).postgres.partitions,
    ).toEqual({
      interval: "day",
      lookback: 2,
    });
  });

  it("refuses an unknown interval with the exit code of its origin", async () => {
    await expect(resolveRunConfig({ "partition-interval": "minute" }, {})).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/--partition-interval must be hour, day, week or month/),
    });
    await expect(resolveRunConfig({}, { VEEP_PARTITION_INTERVAL: "daily" })).rejects.toMatchObject({
      exitCode: 3,
    });
  });
});
