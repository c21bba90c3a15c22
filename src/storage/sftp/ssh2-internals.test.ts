/**
 * useKeyObjects against a real OpenSSH server, for each family of ssh2's JS ciphers: it must find
 * the key fields it knows (a tripwire should an ssh2 upgrade rename them), data must still travel
 * intact both ways, and a rekey's new ciphers must be converted too.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import ssh2, { type Algorithms, type SFTPWrapper } from "ssh2";
import {
  startServer,
  unavailableReason,
  type RunningServer,
} from "../../../test/servers/harness.ts";
import { useKeyObjects } from "./ssh2-internals.ts";

const require = createRequire(import.meta.url);
/** With its native binding built, ssh2 uses other cipher classes, which are left alone. */
const { bindingAvailable } = require("ssh2/lib/protocol/crypto.js") as {
  bindingAvailable: boolean;
};

const CASES: { name: string; algorithms: Algorithms; fields: number }[] = [
  { name: "aes128-gcm", algorithms: { cipher: ["aes128-gcm@openssh.com"] }, fields: 2 },
  {
    name: "aes128-ctr + hmac-sha2-256-etm",
    algorithms: { cipher: ["aes128-ctr"], hmac: ["hmac-sha2-256-etm@openssh.com"] },
    fields: 2,
  },
  {
    name: "chacha20-poly1305",
    algorithms: { cipher: ["chacha20-poly1305@openssh.com"] },
    fields: 4,
  },
];

function roundTrip(sftp: SFTPWrapper, path: string, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sftp.writeFile(path, data, (error) => {
      if (error) {
        reject(error);
        return;
      }
      sftp.readFile(path, (failure, back) => {
        if (failure) reject(failure);
        else resolve(back);
      });
    });
  });
}

const reason = await unavailableReason("openssh");

describe(
  "useKeyObjects against OpenSSH",
  reason === undefined || process.env.CI
    ? {}
    : { skip: `OpenSSH test server unavailable: ${reason}` },
  () => {
    let server: RunningServer;
    before(async () => {
      server = await startServer("openssh");
    });
    after(async () => {
      await server.stop();
    });

    for (const { name, algorithms, fields } of CASES) {
      it(`${name}: converts the per-packet keys, also after a rekey; data intact`, async () => {
        const user = server.users.password;
        const client = new ssh2.Client();
        const converted: number[] = [];
        client.on("handshake", () => converted.push(useKeyObjects(client)));
        try {
          await new Promise<void>((resolve, reject) => {
            client.once("ready", resolve).once("error", reject);
            client.connect({
              host: server.host,
              port: server.port,
              username: user.name,
              password: user.password,
              algorithms,
            });
          });
          const expected = bindingAvailable ? 0 : fields;
          assert.deepEqual(converted, [expected]);
          const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
            client.sftp((error, channel) => {
              if (error) reject(error);
              else resolve(channel);
            });
          });
          const data = randomBytes((1 << 20) + 123);
          const path = `keys-${randomBytes(4).toString("hex")}`;
          assert.ok((await roundTrip(sftp, path, data)).equals(data));

          // A rekey in the middle of a transfer (ssh2 1.17 starts one only from its protocol
          // object; OpenSSH starts them by RekeyLimit): new cipher objects, converted again.
          const rekeyed = new Promise((resolve) => client.once("handshake", resolve));
          const more = randomBytes((1 << 20) + 7);
          const transfer = roundTrip(sftp, path, more);
          setImmediate(() => {
            (client as unknown as { _protocol: { rekey: () => void } })._protocol.rekey();
          });
          await rekeyed;
          assert.ok((await transfer).equals(more));
          assert.deepEqual(converted, [expected, expected], "the rekey's new ciphers");
          assert.equal(useKeyObjects(client), 0, "nothing left to convert");
          await new Promise<void>((resolve, reject) => {
            sftp.unlink(path, (error) => {
              if (error) reject(error);
              else resolve();
            });
          });
        } finally {
          client.end();
        }
      });
    }
  },
);
