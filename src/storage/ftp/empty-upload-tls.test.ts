/**
 * Regression: vsftpd 3.0.3 on a resumed TLS 1.2 session answered "426 Failure reading network
 * stream" to about one empty upload in four when close_notify left in the same flight as the
 * handshake's last message (see upload.ts).
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { it } from "node:test";
import { useServer } from "../../../test/servers/use-server.ts";
import { silentLog } from "../protocol-log.ts";
import { parseSettings, type FtpSettings } from "../settings.ts";
import { createFtpDialer } from "./dialer.ts";

const server = await useServer("vsftpd");

if (server !== undefined) {
  it("uploads 40 empty objects in a row over TLS 1.2 to vsftpd without a 426", async () => {
    const running = await server.get();
    const settings = parseSettings({
      type: "ftp",
      host: running.host,
      port: running.port,
      user: running.users.password.name,
      password: running.users.password.password,
      tls: "explicit",
      tlsMaxVersion: "1.2",
      caFile: running.caFile,
    }) as FtpSettings;
    const connection = await createFtpDialer(settings, silentLog).dial();
    try {
      for (let i = 0; i < 40; i++) {
        assert.equal(
          await connection.write(`${connection.root}/empty-${String(i)}`, Readable.from([])),
          0,
        );
      }
    } finally {
      await connection.close();
    }
  });
}
