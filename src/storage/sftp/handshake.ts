/**
 * The SSH part of dialling on top of an open socket: ssh2's handshake and login, the server's
 * identification line (which ssh2 does not expose), and the one SFTP channel.
 */
import type { Socket } from "node:net";
import type { Client, ConnectConfig, SFTPWrapper } from "ssh2";
import { StorageError } from "../errors.ts";
import { toStorageError } from "./status.ts";

/**
 * Runs ssh2's handshake and login on `config.sock`. Resolves once logged in with a getter of the
 * server's identification line; rejects with ssh2's raw error (the caller words it, knowing the
 * host key verdict and the login method) or INVALID for settings ssh2 refuses outright.
 */
export function startSsh(
  client: Client,
  config: ConnectConfig & { sock: Socket },
  what: string,
): Promise<() => string | undefined> {
  let banner: () => string | undefined = () => undefined;
  return new Promise<() => string | undefined>((resolve, reject) => {
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(
        new StorageError(
          "CONNECTION",
          `${what} failed: the server closed the connection during the handshake. It may limit connections (MaxStartups) or block this address.`,
        ),
      );
    };
    const onReady = () => {
      cleanup();
      resolve(banner);
    };
    const cleanup = () => {
      client.off("error", onError).off("close", onClose).off("ready", onReady);
    };
    client.on("error", onError).on("close", onClose).on("ready", onReady);
    try {
      client.connect(config);
      banner = captureIdentification(config.sock);
    } catch (error) {
      // Unsupported algorithm names and the like are thrown synchronously.
      cleanup();
      reject(
        new StorageError(
          "INVALID",
          `${what} failed: ${error instanceof Error ? error.message : String(error)}. Check the algorithms setting.`,
          { cause: error },
        ),
      );
    }
  });
}

/** Opens the connection's one SFTP channel, within `timeoutMs`. */
export function openSftp(client: Client, what: string, timeoutMs: number): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new StorageError(
          "TIMEOUT",
          `${what} failed: the SFTP subsystem did not start within ${String(timeoutMs / 1000)} s. Raise connectTimeout.`,
        ),
      );
    }, timeoutMs);
    client.sftp((error, sftp) => {
      clearTimeout(timer);
      if (error) {
        reject(
          toStorageError(error, {
            what: `${what}: starting the SFTP subsystem`,
          }),
        );
      } else resolve(sftp);
    });
  });
}

/**
 * Remembers the server's identification line (`SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3`), which
 * ssh2 does not expose: a listener sees the first bytes alongside ssh2's, then removes itself.
 */
function captureIdentification(socket: Socket): () => string | undefined {
  let seen = "";
  let ident: string | undefined;
  const onData = (chunk: Buffer) => {
    seen += chunk.toString("latin1", 0, Math.min(chunk.length, 8192));
    for (const line of seen.split("\n").slice(0, -1)) {
      if (line.startsWith("SSH-")) {
        ident = line.replace(/\r$/, "");
        break;
      }
    }
    if (ident !== undefined || seen.length > 16_384) socket.off("data", onData);
  };
  // Called right after ssh2's connect(), which paused the socket: this listener does not start
  // the flow early, and sees every chunk ssh2 sees once ssh2 resumes it.
  socket.on("data", onData);
  return () => ident;
}
