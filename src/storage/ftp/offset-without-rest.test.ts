/**
 * Reads with an offset where REST must not be used (`features.rangedRead` false): ASCII mode,
 * or a server that does not offer REST. The transfer starts at byte 0 and the first `offset`
 * bytes are dropped locally; `length` still ends the read early. Against the scripted server,
 * which refuses REST here; the real servers (which refuse REST in ASCII mode too) are in
 * ftp-servers.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FakeFtpOptions, FakeFtpServer } from "../../../test/ftp-fake-server.ts";
import { readAll, useFakeFtp } from "../../../test/ftp-test-helpers.ts";
import type { ProtocolConnection } from "../protocol.ts";

const fake = useFakeFtp();

/** Refuses REST the way a server without it (or in ASCII mode) does. */
const refuseRest: FakeFtpOptions["hook"] = (verb, _arg, s) =>
  verb === "REST" && (s.reply("502 REST not implemented."), true);

/** 3 MiB, every byte telling its position, so a wrong offset shows. */
function body(): Buffer {
  const data = Buffer.alloc(3 << 20);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32BE(i, i);
  return data;
}

async function checkReads(server: FakeFtpServer, connection: ProtocolConnection): Promise<void> {
  const data = body();
  server.files.set("/home/f", data);
  assert.deepEqual(
    await readAll(await connection.read("/home/f", 1000, 5000)),
    data.subarray(1000, 6000),
  );
  assert.deepEqual(await readAll(await connection.read("/home/f", 1001)), data.subarray(1001));
  assert.deepEqual(
    await readAll(await connection.read("/home/f", data.length - 3, 100)),
    data.subarray(-3),
    "a length past the end yields what there is",
  );
  assert.equal(
    (await readAll(await connection.read("/home/f", data.length + 10))).length,
    0,
    "an offset past the end yields nothing",
  );
  assert.deepEqual(await readAll(await connection.read("/home/f", 0, 10)), data.subarray(0, 10));
  assert.equal(await connection.alive(), true, "the control connection is still in step");
  assert.equal((await connection.stat("/home/f")).size, data.length);
  assert.deepEqual(
    server.commands.filter((c) => /^REST/i.test(c)),
    [],
    "REST was never sent",
  );
}

void describe("reads with an offset where REST must not be used", () => {
  void test("a server without REST in FEAT (unknown kind): RETR from 0, the offset dropped locally", async () => {
    const { server, connection } = await fake({
      feat: ["EPSV", "PASV", "SIZE", "MDTM", "UTF8"],
      hook: refuseRest,
    });
    assert.equal(connection.features.rangedRead, false);
    await checkReads(server, connection);
  });

  void test("transferType=ascii on a server that offers REST: no REST either", async () => {
    const { server, connection } = await fake({ hook: refuseRest }, { transferType: "ascii" });
    assert.equal(connection.features.rangedRead, false);
    await checkReads(server, connection);
    assert.ok(server.commands.includes("TYPE A"));
  });

  void test("binary mode on a server that offers REST still uses REST", async () => {
    const { server, connection } = await fake({});
    assert.equal(connection.features.rangedRead, true);
    const data = body();
    server.files.set("/home/f", data);
    assert.deepEqual(
      await readAll(await connection.read("/home/f", 1000, 5000)),
      data.subarray(1000, 6000),
    );
    assert.ok(server.commands.includes("REST 1000"));
  });
});
