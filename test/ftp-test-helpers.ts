/**
 * Helpers shared by the FTP adapter's tests: against the scripted server (test/ftp-fake-server.ts)
 * and against the real servers (test/servers/harness.ts). Test-only: under test/, so that
 * tsconfig.build.json never ships it.
 */
import assert from "node:assert/strict";
import type { Readable } from "node:stream";
import { after, test } from "node:test";
import { isStorageError, type StorageErrorCode } from "../src/storage/errors.ts";
import { createFtpDialer } from "../src/storage/ftp/dialer.ts";
import { MemoryProtocolLog } from "../src/storage/protocol-log.ts";
import type { ProtocolConnection } from "../src/storage/protocol.ts";
import { parseSettings, type FtpSettings } from "../src/storage/settings.ts";
import { startFakeFtp, type FakeFtpOptions, type FakeFtpServer } from "./ftp-fake-server.ts";

/** An `assert.rejects` check: a StorageError of `code`, its message matching `pattern`. */
export function isCode(code: StorageErrorCode, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(isStorageError(error, code), `expected ${code}, got ${String(error)}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** Iterates a listing to its end (errors included). */
export async function drain(entries: AsyncIterable<unknown>): Promise<number> {
  let count = 0;
  const iterator = entries[Symbol.asyncIterator]();
  while (!(await iterator.next()).done) count++;
  return count;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface FakeFtp {
  server: FakeFtpServer;
  connection: ProtocolConnection;
  log: MemoryProtocolLog;
}

/**
 * Declares a test file's use of the scripted server; call it at the top level. Returns `fake`,
 * which starts a scripted server with `options` and dials it as user "u" with keepAlive 0, then
 * `defaults`, then `settings`. Every server (and connection) it opened is closed after the
 * file's tests.
 */
export function useFakeFtp(
  defaults: Record<string, unknown> = {},
): (options?: FakeFtpOptions, settings?: Record<string, unknown>) => Promise<FakeFtp> {
  const open: { server: FakeFtpServer; connection?: ProtocolConnection }[] = [];
  after(async () => {
    for (const { server, connection } of open) {
      await connection?.close();
      await server.close();
    }
  });
  return async (options = {}, settings = {}) => {
    const server = await startFakeFtp(options);
    const entry: (typeof open)[number] = { server };
    open.push(entry);
    const log = new MemoryProtocolLog();
    const parsed = parseSettings({
      type: "ftp",
      host: "127.0.0.1",
      port: server.port,
      user: "u",
      password: "p",
      keepAlive: 0,
      ...defaults,
      ...settings,
    }) as FtpSettings;
    const connection = await createFtpDialer(parsed, log).dial();
    entry.connection = connection;
    return { server, connection, log };
  };
}

/**
 * Registers, in place of the tests of a real server that cannot run here, a failing test when CI
 * is set and a skipped one (with the reason) otherwise.
 */
export function unavailableServerTest(kind: string, reason: string): void {
  if (process.env["CI"] !== undefined) {
    void test(`${kind} is available`, () => {
      assert.fail(`${kind} test server unavailable: ${reason}`);
    });
  } else {
    void test(`${kind} (unavailable: ${reason})`, { skip: reason }, () => undefined);
  }
}
