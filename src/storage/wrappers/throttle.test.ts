import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import { MemoryServer } from "../adapters/memory.ts";
import { FileStorage } from "../file-storage.ts";
import { ConnectionPool } from "../pool.ts";
import { silentLog } from "../protocol-log.ts";
import type { ReadOptions, Storage } from "../storage.ts";
import { TokenBucket, withThrottle } from "./throttle.ts";

const MiB = 1024 * 1024;

async function memoryStorage(): Promise<Storage> {
  const server = new MemoryServer();
  return new FileStorage(
    new ConnectionPool(server, { max: 4, log: silentLog }),
    await server.dial(),
  );
}

/** `storage` with every stream its `read` returned recorded in `reads`. */
function spyReads(storage: Storage): { storage: Storage; reads: Readable[] } {
  const reads: Readable[] = [];
  const spy = new Proxy(storage, {
    get(target, property) {
      if (property === "read") {
        return (key: string, options?: ReadOptions) => {
          const stream = target.read(key, options);
          reads.push(stream);
          return stream;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function"
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
  return { storage: spy, reads };
}

/** Seconds `task` takes on the monotonic clock. */
async function timed(task: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await task();
  return (performance.now() - start) / 1000;
}

describe("TokenBucket", () => {
  it("allows a burst of at most rate/10 or 64 KiB, then paces at the rate", () => {
    let now = 0;
    const bucket = new TokenBucket(MiB, () => now);
    assert.equal(bucket.burst, 64 * 1024);
    assert.equal(new TokenBucket(100 * 1024).burst, 10 * 1024);
    assert.equal(bucket.reserve(64 * 1024), 0);
    // The next 64 KiB owe 64 KiB at 1 MiB/s: 62.5 ms.
    assert.equal(bucket.reserve(64 * 1024), 62.5);
    // Reservations queue behind each other: the caller after that waits twice as long.
    assert.equal(bucket.reserve(64 * 1024), 125);
    now = 1000; // a long pause refills the bucket, but never beyond the burst
    assert.equal(bucket.reserve(64 * 1024), 0);
    assert.ok(bucket.reserve(1) > 0);
  });
});

describe("withThrottle", () => {
  it("caps an upload at the upload limit", async () => {
    const storage = withThrottle(await memoryStorage(), { upload: MiB, download: undefined });
    const data = randomBytes(2 * MiB);
    const seconds = await timed(() => storage.write("a/big", data));
    assert.ok(seconds >= 1.8, `2 MiB at 1 MiB/s took only ${seconds.toFixed(2)} s`);
    assert.ok(seconds < 3.5, `2 MiB at 1 MiB/s took ${seconds.toFixed(2)} s`);
    assert.deepEqual(await buffer(storage.read("a/big")), data);
  });

  it("throttles a streamed body and keeps its size", async () => {
    const storage = withThrottle(await memoryStorage(), { upload: MiB, download: undefined });
    const data = randomBytes(MiB);
    const body = {
      open: () => Readable.from([data.subarray(0, MiB / 2), data.subarray(MiB / 2)]),
      size: MiB,
    };
    const seconds = await timed(async () => {
      assert.equal(await storage.write("streamed", body), MiB);
    });
    assert.ok(seconds >= 0.85, `1 MiB at 1 MiB/s took only ${seconds.toFixed(2)} s`);
    // A body whose size is wrong is still caught by the size check under the throttle.
    await assert.rejects(
      storage.write("short", { open: () => Readable.from([data.subarray(0, 1000)]), size: 2000 }),
      { code: "INVALID" },
    );
  });

  it("shares the upload cap between concurrent writes", async () => {
    const storage = withThrottle(await memoryStorage(), { upload: MiB, download: undefined });
    const times: number[] = [];
    const total = await timed(() =>
      Promise.all(
        ["one", "two"].map(async (key) => {
          times.push(await timed(() => storage.write(key, randomBytes(MiB))));
        }),
      ),
    );
    assert.ok(total >= 1.8, `two 1 MiB writes at 1 MiB/s took only ${total.toFixed(2)} s`);
    // Fair sharing: neither finished in about half the time while the other waited.
    for (const seconds of times)
      assert.ok(seconds >= 1.5, `one write took ${seconds.toFixed(2)} s`);
  });

  it("caps a download at the download limit and leaves uploads alone", async () => {
    const storage = withThrottle(await memoryStorage(), { upload: undefined, download: MiB });
    const data = randomBytes(2 * MiB);
    const up = await timed(() => storage.write("big", data));
    assert.ok(up < 0.5, `an uncapped upload took ${up.toFixed(2)} s`);
    let read: Buffer | undefined;
    const seconds = await timed(async () => {
      read = await buffer(storage.read("big"));
    });
    assert.deepEqual(read, data);
    assert.ok(seconds >= 1.8, `2 MiB at 1 MiB/s took only ${seconds.toFixed(2)} s`);
    assert.ok(seconds < 3.5, `2 MiB at 1 MiB/s took ${seconds.toFixed(2)} s`);
  });

  it("shares the download cap between concurrent reads", async () => {
    const storage = withThrottle(await memoryStorage(), { upload: undefined, download: MiB });
    await storage.write("x", randomBytes(MiB));
    await storage.write("y", randomBytes(MiB));
    const total = await timed(() =>
      Promise.all([buffer(storage.read("x")), buffer(storage.read("y", { offset: 0 }))]),
    );
    assert.ok(total >= 1.8, `two 1 MiB reads at 1 MiB/s took only ${total.toFixed(2)} s`);
  });

  it("leaves downloads uncapped when only uploads are limited", async () => {
    const storage = withThrottle(await memoryStorage(), { upload: MiB, download: undefined });
    const data = randomBytes(256 * 1024);
    await storage.write("small", data);
    const seconds = await timed(async () => {
      assert.deepEqual(await buffer(storage.read("small")), data);
    });
    assert.ok(seconds < 0.5, `an uncapped download took ${seconds.toFixed(2)} s`);
  });

  it("passes an error of the inner read through and stops on destroy", async () => {
    const { storage: inner, reads } = spyReads(await memoryStorage());
    const storage = withThrottle(inner, { upload: undefined, download: MiB });
    await assert.rejects(buffer(storage.read("missing")), { code: "NOT_FOUND" });
    await storage.write("z", randomBytes(MiB));
    const stream = storage.read("z");
    const first = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
    assert.ok(first.length <= 64 * 1024);
    assert.equal(reads.length, 2);
    const source = reads[1];
    assert.ok(source);
    assert.ok(!source.destroyed && !source.readableEnded, "the inner read ended early");
    stream.destroy();
    await new Promise((resolve) => stream.once("close", resolve));
    // The throttle stopped reading its source: the inner download was abandoned, not left open.
    assert.ok(source.destroyed, "the inner read stream was not destroyed");
  });
});
