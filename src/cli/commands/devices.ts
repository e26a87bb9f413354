import { isDevicePublicKey } from "../../signing/device-signature.js";
import { UnknownDeviceError } from "../../stores/postgres/index.js";
import { parseCommandArgs, stringFlag } from "../args.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, printLine } from "../command.js";
import { DATABASE_FLAGS, DATABASE_HELP, storeOptionsFrom, withStore } from "../database.js";
import { EXIT } from "../exit-codes.js";

const HELP = `Usage: veep-bridge devices set-key DEVICE KEY [--tenant T --site S] [--database-url URL]
       veep-bridge devices remove-key DEVICE [--database-url URL]

Registers or rotates a device's Ed25519 public key (devices.public_key): KEY is base58 of the 32
key bytes. From then on a bridge that checks signatures requires the device's readings to be
signed with that key (docs/hashing.md, section 6): a running bridge picks the new key up at its
next refresh, or at once when a reading fails the check with the key it knew.

Subcommands:
  set-key DEVICE KEY   set the key (replacing the previous one, which is printed)
  remove-key DEVICE    remove the key: the device's readings are accepted unsigned again

Options:
  --tenant T, --site S register a device that has not sent a reading yet (both needed)
  -h, --help           show this help

${DATABASE_HELP}`;

/** `veep-bridge devices`. */
export const devicesCommand: Command = {
  name: "devices",
  summary: "register, rotate or remove a device's Ed25519 public key (set-key, remove-key)",
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      "devices",
      argv,
      { ...DATABASE_FLAGS, tenant: { type: "string" }, site: { type: "string" } },
      3,
    );
    const [action, deviceId, key] = positionals;
    if (action !== "set-key" && action !== "remove-key") {
      throw usageError(
        action === undefined ? "missing subcommand: set-key or remove-key" : `unknown subcommand "${action}"`,
        "devices",
      );
    }
    if (deviceId === undefined || deviceId === "") throw usageError("missing DEVICE", "devices");
    if (action === "set-key" && key === undefined) throw usageError("missing KEY", "devices");
    if (action === "remove-key" && key !== undefined)
      throw usageError(`unexpected argument "${key}"`, "devices");
    const shown = JSON.stringify(key?.slice(0, 100));
    if (key !== undefined && !isDevicePublicKey(key)) {
      throw usageError(
        `KEY must be an Ed25519 public key: base58 of 32 bytes (32 to 44 characters), got ${shown}`,
        "devices",
      );
    }
    const publicKey = key ?? null;
    const tenantId = stringFlag(values, "tenant");
    const siteId = stringFlag(values, "site");
    if ((tenantId === undefined) !== (siteId === undefined)) {
      throw usageError("give both --tenant and --site, or neither", "devices");
    }
    const register = tenantId !== undefined && siteId !== undefined ? { tenantId, siteId } : undefined;
    const change = await withStore(storeOptionsFrom(values), async (store) => {
      try {
        return await store.setDeviceKey(deviceId, publicKey, register);
      } catch (error) {
        if (error instanceof UnknownDeviceError) {
          throw new CliError(
            `device ${JSON.stringify(deviceId)} is unknown: it is registered by its first reading, or pass --tenant and --site to register it now`,
            EXIT.notFound,
            { cause: error },
          );
        }
        throw error;
      }
    });
    const device = JSON.stringify(change.deviceId);
    if (change.publicKey === null) {
      printLine(
        change.previousKey === null
          ? `device ${device} had no key`
          : `removed the key of device ${device} (was ${change.previousKey})`,
      );
    } else if (change.created) {
      printLine(`registered device ${device} with key ${change.publicKey}`);
    } else if (change.previousKey === change.publicKey) {
      printLine(`device ${device} already has key ${change.publicKey}`);
    } else {
      printLine(
        change.previousKey === null
          ? `set the key of device ${device} to ${change.publicKey}`
          : `rotated the key of device ${device} to ${change.publicKey} (was ${change.previousKey})`,
      );
    }
    return EXIT.ok;
  },
};
