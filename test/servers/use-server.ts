/**
 * The skip policy for real-server tests, in one place: a server that cannot run here is skipped
 * with its reason printed; under CI (CI=true) that is a failure, so a suite can never be skipped
 * silently where it must run.
 */
import assert from "node:assert/strict";
import { after, it } from "node:test";
import { startServer, unavailableReason, type RunningServer, type ServerKind } from "./harness.ts";

export interface ServerHandle {
  /** Starts the server on first call (later calls share it); stopped after the file's tests. */
  get: () => Promise<RunningServer>;
  /** Why it cannot run here, or undefined. */
  reason: string | undefined;
}

/**
 * Declares the use of a real server by a test file. When the server is unavailable, returns
 * undefined after registering either a failing test (CI) or nothing but a printed skip reason.
 */
export async function useServer(kind: ServerKind): Promise<ServerHandle | undefined> {
  const reason = await unavailableReason(kind);
  if (reason !== undefined) {
    if (process.env.CI) {
      it(`${kind} server must run in CI`, () => {
        assert.fail(`the ${kind} server was skipped: ${reason}`);
      });
    } else {
      it(`${kind} server`, { skip: `${kind} unavailable: ${reason}` }, () => undefined);
    }
    return undefined;
  }
  let started: Promise<RunningServer> | undefined;
  after(async () => {
    if (started) await (await started).stop();
  });
  return {
    reason,
    get: () => (started ??= startServer(kind)),
  };
}
