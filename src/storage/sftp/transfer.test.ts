import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { PassThrough, Readable } from "node:stream";
import { describe, it } from "node:test";
import type { SFTPWrapper } from "ssh2";
import { isStorageError } from "../errors.ts";
import { MemoryProtocolLog } from "../protocol-log.ts";
import { SftpSession } from "./session.ts";
import { SftpReadStream } from "./download.ts";
import { writeAll } from "./upload.ts";

type ReadCallback = (
  error: Error | undefined,
  bytes: number,
  data: Buffer,
  position: number,
) => void;
type StatusCallback = (error?: Error | null) => void;

interface FakeOptions {
  file?: Buffer;
  /** The server answers at most this many bytes per READ (a short read). */
  maxPerRead?: number;
  /** Answer the n-th READ/WRITE (1-based) with this error. */
  failAt?: { request: number; error: Error };
  /** Never answer from the n-th request on. */
  hangAt?: number;
}

/** Just enough of ssh2's SFTPWrapper: answers out of order after random short delays. */
function fakeSftp(options: FakeOptions = {}) {
  let file = options.file ?? Buffer.alloc(0);
  let requests = 0;
  let outstanding = 0;
  const stats = { maxOutstanding: 0, closed: 0, written: [] as Buffer[] };
  const answer = (run: () => void) => {
    requests++;
    if (options.hangAt !== undefined && requests >= options.hangAt) return undefined;
    const failure = options.failAt?.request === requests ? options.failAt.error : undefined;
    outstanding++;
    stats.maxOutstanding = Math.max(stats.maxOutstanding, outstanding);
    setTimeout(() => {
      outstanding--;
      run();
    }, Math.random() * 3);
    return failure;
  };
  const sftp = {
    read(
      _handle: Buffer,
      buffer: Buffer,
      offset: number,
      length: number,
      position: number,
      cb: ReadCallback,
    ) {
      const failure = answer(() => {
        if (failure) {
          cb(failure, 0, buffer, position);
          return;
        }
        const count = Math.max(
          0,
          Math.min(length, options.maxPerRead ?? length, file.length - position),
        );
        if (count > 0) file.copy(buffer, offset, position, position + count);
        cb(undefined, count, buffer, position);
      });
    },
    write(
      _handle: Buffer,
      data: Buffer,
      offset: number,
      length: number,
      position: number,
      cb: StatusCallback,
    ) {
      stats.written.push(data);
      const copy = Buffer.from(data.subarray(offset, offset + length));
      const failure = answer(() => {
        if (failure) {
          cb(failure);
          return;
        }
        if (file.length < position + length)
          file = Buffer.concat([file, Buffer.alloc(position + length - file.length)]);
        copy.copy(file, position);
        cb(undefined);
      });
    },
    close(_handle: Buffer, cb: StatusCallback) {
      stats.closed++;
      setImmediate(cb);
    },
  };
  return { sftp: sftp as unknown as SFTPWrapper, stats, contents: () => file };
}

function session(sftp: SFTPWrapper, idleTimeoutMs = 5000, onStall = () => undefined) {
  const log = new MemoryProtocolLog();
  return { session: new SftpSession(7, sftp, log, idleTimeoutMs, onStall), log };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const handle = Buffer.from("h");

describe("SftpReadStream", () => {
  it("delivers a range in order with several reads in flight", async () => {
    const file = randomBytes(300_000);
    const fake = fakeSftp({ file });
    const { session: s } = session(fake.sftp);
    const data = await collect(
      new SftpReadStream(s, handle, "/f", 1000, 250_000, { chunkSize: 8192, inFlight: 8 }),
    );
    assert.ok(data.equals(file.subarray(1000, 251_000)));
    assert.ok(fake.stats.maxOutstanding > 1, "pipelined");
    assert.ok(fake.stats.maxOutstanding <= 8);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fake.stats.closed, 1, "the handle is closed");
  });

  it("re-asks for the rest after short reads and ends at the end of a shorter file", async () => {
    const file = randomBytes(100_000);
    const fake = fakeSftp({ file, maxPerRead: 3000 });
    const { session: s } = session(fake.sftp);
    const data = await collect(
      new SftpReadStream(s, handle, "/f", 10, undefined, { chunkSize: 8192, inFlight: 4 }),
    );
    assert.ok(data.equals(file.subarray(10)));
    const more = await collect(
      new SftpReadStream(s, handle, "/f", 99_000, 50_000, { chunkSize: 8192, inFlight: 4 }),
    );
    assert.equal(more.length, 1000, "a short object yields fewer bytes, not an error");
  });

  it("ends at once for length 0 and for an offset past the end", async () => {
    const fake = fakeSftp({ file: randomBytes(10) });
    const { session: s } = session(fake.sftp);
    assert.equal(
      (await collect(new SftpReadStream(s, handle, "/f", 0, 0, { chunkSize: 4, inFlight: 2 })))
        .length,
      0,
    );
    assert.equal(
      (
        await collect(
          new SftpReadStream(s, handle, "/f", 50, undefined, { chunkSize: 4, inFlight: 2 }),
        )
      ).length,
      0,
    );
  });

  it("errors (CONNECTION) when the session drops mid-transfer, instead of ending early", async () => {
    const fake = fakeSftp({
      file: randomBytes(200_000),
      failAt: { request: 5, error: new Error("No response from server") },
    });
    const { session: s, log } = session(fake.sftp);
    await assert.rejects(
      collect(new SftpReadStream(s, handle, "/f", 0, undefined, { chunkSize: 8192, inFlight: 4 })),
      (error: unknown) => isStorageError(error, "CONNECTION") && error.retriable,
    );
    assert.ok(log.lines.some((line) => line.includes("< ERROR No response from server")));
  });

  it("errors with the status when a READ fails", async () => {
    const denied = Object.assign(new Error("Permission denied"), { code: 3 });
    const fake = fakeSftp({ file: randomBytes(50_000), failAt: { request: 2, error: denied } });
    const { session: s } = session(fake.sftp);
    await assert.rejects(
      collect(new SftpReadStream(s, handle, "/f", 0, undefined, { chunkSize: 8192, inFlight: 4 })),
      (error: unknown) => isStorageError(error, "PERMISSION"),
    );
  });

  it("errors with TIMEOUT after idleTimeout without an answer, and gives the connection up", async () => {
    let stalled = 0;
    const fake = fakeSftp({ file: randomBytes(50_000), hangAt: 3 });
    const { session: s } = session(fake.sftp, 80, () => {
      stalled++;
    });
    await assert.rejects(
      collect(new SftpReadStream(s, handle, "/f", 0, undefined, { chunkSize: 8192, inFlight: 2 })),
      (error: unknown) => isStorageError(error, "TIMEOUT") && error.retriable,
    );
    assert.equal(stalled, 1);
    assert.ok(s.lost, "later requests fail at once");
  });
});

describe("writeAll", () => {
  for (const inFlight of [8, 1]) {
    it(`writes every byte at its offset with ${String(inFlight)} write(s) in flight`, async () => {
      const fake = fakeSftp();
      const { session: s } = session(fake.sftp);
      const data = randomBytes(500_001);
      // odd-sized chunks, a Uint8Array and a large buffer that is split without copying
      const parts = [
        data.subarray(0, 7),
        new Uint8Array(data.subarray(7, 70_000)),
        data.subarray(70_000),
      ];
      const sent = await writeAll(s, handle, "/f", Readable.from(parts), {
        chunkSize: 32_768,
        inFlight,
      });
      assert.equal(sent, data.length);
      assert.ok(fake.contents().equals(data));
      if (inFlight === 1) assert.equal(fake.stats.maxOutstanding, 1, "sequentialWrites");
      else assert.ok(fake.stats.maxOutstanding > 1, "pipelined");
    });
  }

  it("sends chunks the source had buffered as views of them, without joining them first", async () => {
    const fake = fakeSftp();
    const { session: s } = session(fake.sftp);
    const chunks = Array.from({ length: 4 }, () => randomBytes(1 << 20));
    // All four are buffered before the upload starts: Readable's async iterator would hand them
    // out as one new 4 MiB Buffer.
    const source = new PassThrough({ highWaterMark: 8 << 20 });
    for (const chunk of chunks) source.write(chunk);
    source.end();
    const sent = await writeAll(s, handle, "/f", source, { chunkSize: 1 << 18, inFlight: 4 });
    assert.equal(sent, 4 << 20);
    assert.ok(fake.contents().equals(Buffer.concat(chunks)));
    assert.equal(fake.stats.written.length, 16);
    for (const data of fake.stats.written) {
      assert.ok(
        chunks.some((chunk) => chunk.buffer === data.buffer),
        "a write request carries a copy instead of a view of a source chunk",
      );
    }
  });

  it("writes nothing for an empty source", async () => {
    const fake = fakeSftp();
    const { session: s } = session(fake.sftp);
    const sent = await writeAll(s, handle, "/f", Readable.from([]), {
      chunkSize: 1024,
      inFlight: 2,
    });
    assert.equal(sent, 0);
    assert.equal(fake.stats.written.length, 0);
  });

  it("rejects (INVALID) a source destroyed before its end", async () => {
    const fake = fakeSftp();
    const { session: s } = session(fake.sftp);
    const source = new PassThrough();
    source.write(randomBytes(10_000));
    setTimeout(() => source.destroy(), 20);
    await assert.rejects(
      writeAll(s, handle, "/f", source, { chunkSize: 1024, inFlight: 2 }),
      (error: unknown) =>
        isStorageError(error, "INVALID") && /premature close/i.test(error.message),
    );
  });

  it("rejects with the first failure and stops reading the source", async () => {
    const fake = fakeSftp({
      failAt: {
        request: 3,
        error: Object.assign(new Error("No space left on device"), { code: 4 }),
      },
    });
    const { session: s } = session(fake.sftp);
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i++) yield randomBytes(32_768);
      })(),
    );
    await assert.rejects(
      writeAll(s, handle, "/f", source, { chunkSize: 32_768, inFlight: 4 }),
      (error: unknown) => isStorageError(error, "NO_SPACE"),
    );
    assert.ok(source.destroyed);
  });

  it("rejects with TIMEOUT when writes are not acknowledged within idleTimeout", async () => {
    const fake = fakeSftp({ hangAt: 2 });
    const { session: s } = session(fake.sftp, 80);
    await assert.rejects(
      writeAll(s, handle, "/f", Readable.from([randomBytes(200_000)]), {
        chunkSize: 32_768,
        inFlight: 4,
      }),
      (error: unknown) => isStorageError(error, "TIMEOUT"),
    );
  });

  it("wraps a failing source as INVALID, not as a server error", async () => {
    const fake = fakeSftp();
    const { session: s } = session(fake.sftp);
    const source = new Readable({
      read() {
        this.destroy(new Error("disk read error"));
      },
    });
    await assert.rejects(
      writeAll(s, handle, "/f", source, { chunkSize: 1024, inFlight: 2 }),
      (error: unknown) => isStorageError(error, "INVALID") && /disk read error/.test(error.message),
    );
  });
});
