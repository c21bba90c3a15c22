/**
 * The loopback servers of the test harness, started on first use and shared by the tools (each
 * tool works in its own directory on them): OpenSSH for SFTP and borg's SSH, vsftpd for FTP and
 * explicit FTPS.
 */
import { startServer, unavailableReason, type RunningServer } from "../../test/servers/harness.ts";

/** The server kinds the benchmark uses. */
export type BenchServer = "openssh" | "vsftpd";

/** Starts servers on demand and stops them all at the end. */
export class Servers {
  private readonly started = new Map<BenchServer, Promise<RunningServer>>();

  /** The running server of `kind`; rejects with the reason when it cannot run here. */
  get(kind: BenchServer): Promise<RunningServer> {
    let server = this.started.get(kind);
    if (server === undefined) {
      server = (async () => {
        const reason = await unavailableReason(kind);
        if (reason !== undefined) throw new Error(reason);
        return startServer(kind);
      })();
      server.catch(() => undefined);
      this.started.set(kind, server);
    }
    return server;
  }

  /** Stops every server that started. */
  async stopAll(): Promise<void> {
    for (const server of this.started.values()) {
      const running = await server.catch(() => undefined);
      await running?.stop();
    }
    this.started.clear();
  }
}
