import { LifecycleError } from "../errors.js";
import type { Store } from "./store.js";

const GUARDED: unique symbol = Symbol("veep-bridge.guardedStore");

/**
 * Members of the store contracts that return promises: after `close()` they reject instead of
 * throwing. An adapter's own members count too when they are `async` functions or async generators.
 */
const ASYNC_MEMBERS = new Set<PropertyKey>([
  "loadOpenBatch",
  "append",
  "sealBatch",
  "failBatch",
  "getBatch",
  "getBatchLeaves",
  "getProof",
  "listDeadLetters",
  "loadDeviceKeys",
]);

/** An async iterator whose first `next()` rejects with `error`. */
function refusingGenerator(error: Error): AsyncIterableIterator<never> {
  const iterator: AsyncIterableIterator<never> = {
    next: () => Promise.reject(error),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/**
 * Wraps a store in the lifecycle every adapter gets, whoever wrote it (the model is Kysely's
 * `RuntimeDriver`): `open()` runs the adapter's `open` once (concurrent and later calls share it; a
 * failed open may be retried), `close()` runs once (later calls return the first promise, and it
 * waits for an open in progress), and any other member called after `close()` fails with a
 * `LifecycleError` (`STOPPED`). Guarding a guarded store returns it unchanged.
 *
 * @param store - any {@link Store}, with whatever extra members it has
 * @returns the same store behind the guard, of the same type
 */
export function guardStore<S extends Store>(store: S): S {
  if ((store as { [GUARDED]?: true })[GUARDED]) return store;
  let opening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const closed = (member: PropertyKey): LifecycleError =>
    new LifecycleError("STOPPED", `the ${store.name} store is closed: ${String(member)}() after close()`);
  const open = (): Promise<void> => {
    if (closing) return Promise.reject(closed("open"));
    opening ??= Promise.resolve()
      .then(() => store.open())
      .catch((error: unknown) => {
        opening = undefined;
        throw error;
      });
    return opening;
  };
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await opening?.catch(() => undefined);
      await store.close();
    })();
    return closing;
  };
  return new Proxy(store, {
    get(target, member) {
      if (member === GUARDED) return true;
      if (member === "open") return open;
      if (member === "close" || member === Symbol.asyncDispose) return close;
      const value: unknown = Reflect.get(target, member, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]): unknown => {
        if (closing) {
          const kind = (value as { constructor?: { name?: string } }).constructor?.name;
          if (kind === "AsyncGeneratorFunction") return refusingGenerator(closed(member));
          if (ASYNC_MEMBERS.has(member) || kind === "AsyncFunction") return Promise.reject(closed(member));
          throw closed(member);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
