import { expect } from "vitest";
import { VeepBridgeError, type VeepErrorCode } from "../errors.js";

/** Expects `promise` to reject with a veep-bridge error of `code`; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: VeepErrorCode): Promise<VeepBridgeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with code ${code}`).toBeInstanceOf(VeepBridgeError);
  expect((error as VeepBridgeError).code).toBe(code);
  return error as VeepBridgeError;
}
