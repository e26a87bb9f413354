import type { KeyObject } from "node:crypto";
import type { Clock } from "../batching/index.js";
import { preview } from "../message/text-limits.js";
import type { Reading, Rejection } from "../message/types.js";
import {
  devicePublicKey,
  SIGNATURE_MEMBER,
  signedBytes,
  verifySignedBytesAsync,
} from "../signing/device-signature.js";
import type { ResolvedSignatureOptions } from "./options.js";

/** A bad signature is checked again with freshly loaded keys at most this often (a rotated key). */
const MIN_RELOAD_INTERVAL_MS = 1000;

interface DeviceKey {
  readonly publicKey: string;
  /** `null` when the registered key is not base58 of 32 bytes: nothing can verify. */
  readonly key: KeyObject | null;
}

/**
 * The policy's verdict on one reading, with the key it was checked against (`undefined`: the
 * device had none), so that a verdict reached before the keys changed is not used after.
 */
export type Verdict =
  | { readonly ok: true; readonly reading: Reading; readonly keyUsed: string | undefined }
  | {
      readonly ok: false;
      readonly reading: Reading;
      readonly keyUsed: string;
      readonly publicKey: string;
      readonly refusal: Refusal;
    };

/** A verdict, or the check that will give it (its Ed25519 verify running on the thread pool). */
export type PendingVerdict = Verdict | Promise<Verdict>;

interface Refusal {
  readonly reason: "missing_signature" | "bad_signature";
  readonly detail: string;
}

/** What {@link SignatureGate.check} made of a commit's readings. */
export interface CheckedReadings {
  /** Readings to store (with `signatureCheck` set when their device has a key), in order. */
  readonly readings: Reading[];
  /** Readings refused by the policy (`missing_signature`, `bad_signature`), in order. */
  readonly rejections: Rejection[];
}

/**
 * The bridge's signature policy: device keys loaded from the store (or the `signatures.keys`
 * option) at start and refreshed every `refreshMs`, never per message; each reading of a device
 * with a key checked against it before the reading is stored. A reading that fails is checked
 * once more with freshly loaded keys (at most once a second), so a key rotated in the database
 * applies at once.
 */
export class SignatureGate {
  readonly #options: ResolvedSignatureOptions;
  readonly #clock: Clock;
  #keys = new Map<string, DeviceKey>();
  #loadedAt = Number.NEGATIVE_INFINITY;
  #checked = 0;

  /**
   * @param options - the resolved `signatures` option (with its key loader)
   * @param clock - the bridge's clock
   */
  constructor(options: ResolvedSignatureOptions, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
  }

  /** Signatures checked so far. */
  get checked(): number {
    return this.#checked;
  }

  /** Loads every device key (at start; then by {@link SignatureGate.refreshIfDue}). */
  async load(): Promise<void> {
    const loaded = await this.#options.keys();
    const keys = new Map<string, DeviceKey>();
    for (const [deviceId, publicKey] of loaded) {
      const known = this.#keys.get(deviceId);
      if (known?.publicKey === publicKey) {
        keys.set(deviceId, known);
        continue;
      }
      let key: KeyObject | null = null;
      try {
        key = devicePublicKey(publicKey);
      } catch {
        key = null;
      }
      keys.set(deviceId, { publicKey, key });
    }
    this.#keys = keys;
    this.#loadedAt = this.#clock.now();
  }

  /**
   * Reloads the keys when `refreshMs` has passed since the last load. A failed reload keeps the
   * keys it had (and is tried again after `refreshMs`); its error is returned for the caller to report.
   */
  async refreshIfDue(): Promise<unknown> {
    if (this.#clock.now() - this.#loadedAt < this.#options.refreshMs) return undefined;
    return this.#reload();
  }

  async #reload(): Promise<unknown> {
    try {
      await this.load();
      return undefined;
    } catch (error) {
      this.#loadedAt = this.#clock.now();
      return error;
    }
  }

  /**
   * Starts the check of one reading as it arrives, so that its Ed25519 verify runs on the thread
   * pool while earlier commits are written; {@link SignatureGate.check} takes the result.
   *
   * @returns the verdict to come, or `undefined` when no device has a key or the check could not
   * start (it is done at commit then)
   */
  begin(reading: Reading): PendingVerdict | undefined {
    if (this.#keys.size === 0) return undefined;
    try {
      return this.#verdict(reading);
    } catch {
      return undefined;
    }
  }

  /**
   * Applies the policy to `readings`: a device without a key is accepted as it is; a device with
   * one needs a valid signature, else its reading is rejected (`onInvalid: "reject"`) or stored
   * with `signatureCheck.valid` false (`"store"`).
   *
   * @param readings - a commit's readings, in arrival order
   * @param begun - for each reading, the check {@link SignatureGate.begin} started, if any; one
   * made against a key that has changed since is done again
   * @returns the readings to store and the rejections, each in arrival order; `reloadError` when
   * reloading the keys for a failed check failed
   */
  async check(
    readings: readonly Reading[],
    begun: readonly (PendingVerdict | undefined)[] = [],
  ): Promise<CheckedReadings & { reloadError?: unknown }> {
    if (this.#keys.size === 0) {
      // No device has a key: every reading is accepted as it is (what the verdicts below would say).
      for (const pending of begun) if (pending instanceof Promise) pending.catch(() => undefined);
      return { readings: [...readings], rejections: [] };
    }
    const early = await Promise.all(
      readings.map((reading, i) => this.#settled(reading, begun[i] ?? this.#safeVerdict(reading))),
    );
    let verdicts = await Promise.all(
      early.map((v, i) => (this.#current(v) ? v : this.#safeVerdict(readings[i]!))),
    );
    let reloadError: unknown;
    if (verdicts.some((v) => !v.ok) && this.#clock.now() - this.#loadedAt >= MIN_RELOAD_INTERVAL_MS) {
      reloadError = await this.#reload();
      // Check again what failed, and whatever was checked with a key that changed (or that is new):
      // one commit may hold readings signed before and after a rotation.
      verdicts = await Promise.all(
        verdicts.map((v, i) => (v.ok && this.#current(v) ? v : this.#safeVerdict(readings[i]!))),
      );
    }
    const accepted: Reading[] = [];
    const rejections: Rejection[] = [];
    for (const verdict of verdicts) {
      if (verdict.ok) {
        accepted.push(verdict.reading);
      } else if (this.#options.onInvalid === "store") {
        accepted.push({ ...verdict.reading, signatureCheck: { valid: false, publicKey: verdict.publicKey } });
      } else {
        const { reading, refusal } = verdict;
        rejections.push({
          topic: reading.topic,
          deviceId: reading.deviceId,
          payload: reading.rawPayload,
          reason: refusal.reason,
          detail: refusal.detail,
          receivedAt: reading.receivedAt,
        });
      }
    }
    return reloadError === undefined
      ? { readings: accepted, rejections }
      : { readings: accepted, rejections, reloadError };
  }

  /**
   * {@link SignatureGate.#verdict}, never throwing or rejecting: a check that fails in itself (not
   * a signature that does not verify) refuses the reading as `bad_signature` with the error, so a
   * commit never stalls on it.
   */
  #safeVerdict(reading: Reading): Promise<Verdict> {
    let pending: PendingVerdict;
    try {
      pending = this.#verdict(reading);
    } catch (error) {
      return Promise.resolve(this.#unchecked(reading, error));
    }
    return this.#settled(reading, pending);
  }

  #settled(reading: Reading, pending: PendingVerdict): Promise<Verdict> {
    return Promise.resolve(pending).catch((error: unknown) => this.#unchecked(reading, error));
  }

  #unchecked(reading: Reading, error: unknown): Verdict {
    const publicKey = this.#keys.get(reading.deviceId)?.publicKey ?? "";
    const why = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      reading,
      keyUsed: publicKey,
      publicKey,
      refusal: { reason: "bad_signature", detail: `the signature could not be checked: ${preview(why)}` },
    };
  }

  /** `true` when `verdict` was reached with the device's current key (or lack of one). */
  #current(verdict: Verdict): boolean {
    return verdict.keyUsed === this.#keys.get(verdict.reading.deviceId)?.publicKey;
  }

  /**
   * The policy's verdict on one reading. The Ed25519 check runs on libuv's thread pool: checks
   * run in parallel on the other cores while the event loop goes on receiving.
   */
  #verdict(reading: Reading): PendingVerdict {
    const device = this.#keys.get(reading.deviceId);
    if (device === undefined) return { ok: true, reading, keyUsed: undefined };
    const { publicKey, key } = device;
    const fail = (reason: Refusal["reason"], detail: string): Verdict => ({
      ok: false,
      reading,
      keyUsed: publicKey,
      publicKey,
      refusal: { reason, detail },
    });
    const who = `device ${preview(reading.deviceId)}`;
    if (!Object.hasOwn(reading.payload, SIGNATURE_MEMBER)) {
      return fail("missing_signature", `${who} has a registered key and the reading has no signature`);
    }
    const signature = reading.deviceSignature;
    if (signature === undefined) {
      return fail("bad_signature", "the reading's signature is not a string of base58 of 64 bytes");
    }
    if (key === null) {
      return fail(
        "bad_signature",
        `${who} has a registered key that is not base58 of 32 bytes; register it again with veep-bridge devices set-key`,
      );
    }
    this.#checked += 1;
    return verifySignedBytesAsync(signedBytes(reading.payload), signature, key).then(
      (valid): Verdict =>
        valid
          ? {
              ok: true,
              reading: { ...reading, signatureCheck: { valid: true, publicKey } },
              keyUsed: publicKey,
            }
          : fail("bad_signature", `the signature does not verify with the key of ${who} (${publicKey})`),
    );
  }
}
