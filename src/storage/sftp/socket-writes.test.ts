import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, type Socket, connect, createServer } from "node:net";
import { describe, it } from "node:test";
import { coalesceWrites } from "./socket-writes.ts";

type Chunk = { chunk: Buffer };

describe("coalesceWrites", () => {
  it("sends the writes of one tick as one writev, in order, and corks again next tick", async () => {
    const received: Buffer[] = [];
    const server = createServer((peer) => {
      peer.on("data", (data: Buffer) => received.push(data));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
    await once(socket, "connect");
    try {
      const calls: string[] = [];
      const spied = socket as Socket & {
        _write: (...args: unknown[]) => void;
        _writev: (chunks: Chunk[], ...rest: unknown[]) => void;
      };
      const write = spied._write.bind(socket);
      const writev = spied._writev.bind(socket);
      spied._write = (...args) => {
        calls.push("write");
        write(...args);
      };
      spied._writev = (chunks, ...rest) => {
        calls.push(`writev ${String(chunks.length)}`);
        writev(chunks, ...rest);
      };
      coalesceWrites(socket);

      const parts = [randomBytes(4), randomBytes(32_768), randomBytes(16)];
      for (const part of parts) socket.write(part);
      assert.equal(socket.writableCorked, 1, "held until the end of the tick");
      assert.deepEqual(calls, []);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(socket.writableCorked, 0);
      assert.deepEqual(calls, ["writev 3"]);

      const more = [randomBytes(100), randomBytes(200)];
      for (const part of more) socket.write(part);
      assert.equal(socket.writableCorked, 1, "corked again in a later tick");
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(calls, ["writev 3", "writev 2"]);

      const expected = Buffer.concat([...parts, ...more]);
      while (Buffer.concat(received).length < expected.length) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(Buffer.concat(received).equals(expected));
    } finally {
      socket.destroy();
      server.close();
    }
  });

  it("lets end() flush what the tick still holds", async () => {
    const received: Buffer[] = [];
    const server = createServer((peer) => {
      peer.on("data", (data: Buffer) => received.push(data));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
    await once(socket, "connect");
    try {
      coalesceWrites(socket);
      const data = randomBytes(10_000);
      socket.write(data);
      socket.end();
      await once(socket, "finish");
      while (Buffer.concat(received).length < data.length) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(Buffer.concat(received).equals(data));
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
