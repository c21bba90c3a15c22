/**
 * openStorage: the one place where a Storage is assembled from settings —
 * adapter → pool → shared file tier → retry → throttle → operation log → read-only.
 */
import { createLocalDialer } from "./adapters/local.ts";
import { MemoryServer } from "./adapters/memory.ts";
import { FileStorage } from "./file-storage.ts";
import { ConnectionPool } from "./pool.ts";
import type { Dialer } from "./protocol.ts";
import { FileProtocolLog, silentLog, type ProtocolLog } from "./protocol-log.ts";
import { proxySecrets } from "./redact.ts";
import type { StorageSettings } from "./settings.ts";
import type { Storage } from "./storage.ts";
import { withOperationLog } from "./wrappers/op-log.ts";
import { withReadOnly } from "./wrappers/read-only.ts";
import { retrying, withRetry, type RetryOptions } from "./wrappers/retry.ts";
import { withThrottle } from "./wrappers/throttle.ts";

export interface OpenOptions {
  /** Protocol log to use instead of the one named by `settings.protocolLog`. */
  log?: ProtocolLog;
  /** The memory server for `type: "memory"` (tests share one between opens). */
  memory?: MemoryServer;
  /** Retry timing, for tests (defaults: 1 s base, 30 s cap, full jitter). */
  retry?: Partial<Omit<RetryOptions, "maxRetries">>;
}

/**
 * Builds the dialer for one protocol. The FTP and SFTP adapters are loaded on first use, so a
 * local backup never pays for loading ssh2 or basic-ftp.
 */
export async function createDialer(
  settings: StorageSettings,
  log: ProtocolLog,
  memory?: MemoryServer,
): Promise<Dialer> {
  switch (settings.type) {
    case "local":
      return createLocalDialer(settings);
    case "memory": {
      const server = memory ?? new MemoryServer();
      return { protocol: "memory", dial: () => server.dialAt(settings.path) };
    }
    case "ftp":
      return (await import("./ftp/dialer.ts")).createFtpDialer(settings, log);
    case "sftp":
      return (await import("./sftp/dialer.ts")).createSftpDialer(settings, log);
  }
}

/**
 * Connects (the first connection proves the settings: login, TLS, host key) and returns the
 * assembled Storage. Rejects with a StorageError when the first connection fails, after the
 * retries the settings allow for transient failures.
 */
export async function openStorage(
  settings: StorageSettings,
  options: OpenOptions = {},
): Promise<Storage> {
  const log =
    options.log ??
    (settings.protocolLog === undefined ? silentLog : new FileProtocolLog(settings.protocolLog));
  if ("password" in settings) log.addSecret(settings.password);
  if ("passphrase" in settings) log.addSecret(settings.passphrase);
  if ("account" in settings) log.addSecret(settings.account);
  if ("proxy" in settings) for (const secret of proxySecrets(settings.proxy)) log.addSecret(secret);
  const dialer = await createDialer(settings, log, options.memory);
  const pool = new ConnectionPool(dialer, { max: settings.maxConnections, log });
  const retry: RetryOptions = { maxRetries: settings.maxRetries, log, ...options.retry };
  const first = await retrying(retry, "Connecting", () => pool.acquire());
  let storage: Storage = new FileStorage(pool, first);
  storage = withRetry(storage, retry);
  const upload = settings.uploadLimit ?? settings.bandwidthLimit;
  const download = settings.downloadLimit ?? settings.bandwidthLimit;
  if (upload !== undefined || download !== undefined) {
    storage = withThrottle(storage, { upload, download });
  }
  storage = withOperationLog(storage, log);
  if (settings.readOnly) storage = withReadOnly(storage);
  return storage;
}
