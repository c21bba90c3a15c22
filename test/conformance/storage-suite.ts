/**
 * One conformance suite for every Storage: the memory and local adapters and every real server.
 * Each case checks a clause of the contract written in src/storage/storage.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it, type TestContext } from "node:test";
import { isStorageError, type StorageErrorCode } from "../../src/storage/errors.ts";
import { isTempName } from "../../src/storage/keys.ts";
import type { Storage } from "../../src/storage/storage.ts";

export interface SuiteOptions {
  /** Opens a fresh storage whose backup directory is empty or absent. */
  open: () => Promise<Storage>;
  /** Names are written in this code page only (e.g. latin1 servers cannot take every name). */
  asciiNamesOnly?: boolean;
  /**
   * The names directly inside the directory `dir` (a key of the storage last opened) as the
   * server holds them, read without FileStorage, which hides temporary objects: the memory
   * server's tree, the local directory, a server's directory on disk. Rejects when `dir` does
   * not exist. Without it the suite cannot see leftover temporary objects and says so.
   */
  rawNames?: (dir: string) => Promise<string[]>;
  /**
   * Stores `data` under `key` (of the storage last opened) without FileStorage, which refuses
   * keys of the form of its temporary names: used to plant a stray temporary object.
   */
  rawWrite?: (key: string, data: Uint8Array) => Promise<void>;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export async function listNames(storage: Storage, dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of storage.list(dir)) names.push(entry.name);
  return names.sort();
}

async function rejectsWith(promise: Promise<unknown>, code: StorageErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isStorageError(error), `expected a StorageError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** A name of the form FileStorage gives its temporary objects (see tempPath in keys.ts). */
const STRAY_TEMP = ".n000.ferry-tmp-0123456789ab";

export function storageConformance(name: string, options: SuiteOptions): void {
  const { rawNames } = options;

  /**
   * The raw names in `dir`, sorted; undefined (with a diagnostic) when the caller gave no way
   * to list raw names.
   */
  async function rawListing(t: TestContext, dir: string): Promise<string[] | undefined> {
    if (!rawNames) {
      t.diagnostic(`no rawNames for ${name}: temporary objects in "${dir}" are not checked`);
      return undefined;
    }
    return (await rawNames(dir)).sort();
  }

  describe(`Storage conformance: ${name}`, () => {
    let storage: Storage;
    before(async () => {
      storage = await options.open();
    });
    after(async () => {
      await storage.close();
    });

    it("writes and reads back objects of 0 B, 1 B, 64 KiB and 1.5 MiB exactly", async (t) => {
      const sizes = [0, 1, 65_536, 1_572_881];
      for (const size of sizes) {
        const data = randomBytes(size);
        const stored = await storage.write(`sizes/object-${String(size)}`, data);
        assert.equal(stored, size);
        assert.ok((await readAll(storage.read(`sizes/object-${String(size)}`))).equals(data));
      }
      const raw = await rawListing(t, "sizes");
      if (raw !== undefined) {
        assert.deepEqual(raw, sizes.map((size) => `object-${String(size)}`).sort());
      }
    });

    it("stats objects and directories, NOT_FOUND for absent keys", async () => {
      await storage.write("stat/file", randomBytes(1234));
      const file = await storage.stat("stat/file");
      assert.equal(file.type, "file");
      assert.equal(file.size, 1234);
      assert.equal((await storage.stat("stat")).type, "directory");
      await rejectsWith(storage.stat("stat/absent"), "NOT_FOUND");
    });

    it("lists a directory completely, without temporary objects, NOT_FOUND when absent", async (t) => {
      const names = Array.from({ length: 120 }, (_, i) => `n${String(i).padStart(3, "0")}`);
      await Promise.all(names.map((n) => storage.write(`list/${n}`, Buffer.from(n))));
      await storage.mkdir("list/sub");
      // The 120 writes left no temporary object behind.
      const expected = [...names, "sub"].sort();
      const raw = await rawListing(t, "list");
      if (raw !== undefined) assert.deepEqual(raw, expected);
      // A temporary object of an interrupted upload is there, but a listing leaves it out.
      if (options.rawWrite) {
        assert.ok(isTempName(STRAY_TEMP), `${STRAY_TEMP} is no longer a temporary name`);
        await options.rawWrite(`list/${STRAY_TEMP}`, Buffer.from("partial"));
        const planted = await rawListing(t, "list");
        if (planted !== undefined) assert.deepEqual(planted, [...expected, STRAY_TEMP].sort());
      } else {
        t.diagnostic(
          `no rawWrite for ${name}: listing with a temporary object present not checked`,
        );
      }
      const listed = [];
      for await (const entry of storage.list("list")) listed.push(entry);
      assert.deepEqual(listed.map((e) => e.name).sort(), expected);
      assert.equal(listed.find((e) => e.name === "sub")?.type, "directory");
      assert.equal(listed.find((e) => e.name === "n007")?.size, 4);
      await assert.rejects(
        async () => listNames(storage, "list-absent"),
        (error: unknown) => isStorageError(error, "NOT_FOUND"),
      );
    });

    it("lists temporary objects when asked, and removes one by its listed key", async (t) => {
      if (!options.rawWrite) {
        t.skip(`no rawWrite for ${name}: a leftover temporary object cannot be planted`);
        return;
      }
      await storage.write("sweep/kept", Buffer.from("kept"));
      await options.rawWrite(`sweep/${STRAY_TEMP}`, Buffer.from("partial"));
      const listed = [];
      for await (const entry of storage.list("sweep", { temporary: true })) listed.push(entry);
      assert.deepEqual(
        listed.map((e) => [e.name, e.temporary === true]).sort(),
        [
          [STRAY_TEMP, true],
          ["kept", false],
        ].sort(),
      );
      await assert.rejects(storage.remove("sweep/kept", { temporary: true }), { code: "INVALID" });
      await storage.remove(`sweep/${STRAY_TEMP}`, { temporary: true });
      assert.deepEqual(await rawListing(t, "sweep"), ["kept"]);
    });

    it("reads ranges; a range past the end yields the bytes there are", async () => {
      const data = randomBytes(300_000);
      await storage.write("range/object", data);
      const middle = await readAll(
        storage.read("range/object", { offset: 100_000, length: 50_000 }),
      );
      assert.ok(middle.equals(data.subarray(100_000, 150_000)));
      const tail = await readAll(storage.read("range/object", { offset: 299_000, length: 5000 }));
      assert.ok(tail.equals(data.subarray(299_000)));
      const rest = await readAll(storage.read("range/object", { offset: 123 }));
      assert.ok(rest.equals(data.subarray(123)));
    });

    it("reports NOT_FOUND when reading an absent object", async () => {
      await assert.rejects(readAll(storage.read("absent/object")), (error: unknown) =>
        isStorageError(error, "NOT_FOUND"),
      );
    });

    it("replaces on write by default and refuses with EXISTS when overwrite is false", async (t) => {
      await storage.write("replace/object", Buffer.from("old"));
      await storage.write("replace/object", Buffer.from("new!"));
      assert.equal((await readAll(storage.read("replace/object"))).toString(), "new!");
      await rejectsWith(
        storage.write("replace/object", Buffer.from("x"), { overwrite: false }),
        "EXISTS",
      );
      assert.equal((await readAll(storage.read("replace/object"))).toString(), "new!");
      const raw = await rawListing(t, "replace");
      if (raw !== undefined) assert.deepEqual(raw, ["object"]);
    });

    it("streams a body from a factory and refuses a short body, leaving nothing behind", async (t) => {
      const data = randomBytes(200_000);
      await storage.write("body/ok", { open: () => Readable.from([data]), size: data.length });
      assert.ok((await readAll(storage.read("body/ok"))).equals(data));
      const written = await rawListing(t, "body");
      if (written !== undefined) assert.deepEqual(written, ["ok"]);
      // The body gives fewer bytes than announced: the caller's input is wrong, not the server.
      await rejectsWith(
        storage.write("body/short", { open: () => Readable.from([data]), size: data.length + 1 }),
        "INVALID",
      );
      await rejectsWith(storage.stat("body/short"), "NOT_FOUND");
      assert.deepEqual(await listNames(storage, "body"), ["ok"]);
      // Nothing behind under any name, temporary ones included (listings hide those).
      const raw = await rawListing(t, "body");
      if (raw !== undefined) assert.deepEqual(raw, ["ok"]);
    });

    it("renames onto an existing object, NOT_FOUND for an absent source", async () => {
      await storage.write("rename/a", Buffer.from("A"));
      await storage.write("rename/b", Buffer.from("B"));
      await storage.rename("rename/a", "rename/b");
      assert.equal((await readAll(storage.read("rename/b"))).toString(), "A");
      await rejectsWith(storage.stat("rename/a"), "NOT_FOUND");
      await rejectsWith(storage.rename("rename/absent", "rename/c"), "NOT_FOUND");
    });

    it("removes objects and empty directories, NOT_FOUND when absent", async () => {
      await storage.write("remove/object", Buffer.from("x"));
      await storage.remove("remove/object");
      await rejectsWith(storage.stat("remove/object"), "NOT_FOUND");
      await rejectsWith(storage.remove("remove/object"), "NOT_FOUND");
      await storage.removeDir("remove");
      await rejectsWith(storage.stat("remove"), "NOT_FOUND");
    });

    it("creates directories recursively and idempotently", async () => {
      await storage.mkdir("deep/a/b/c");
      await storage.mkdir("deep/a/b/c");
      await storage.mkdir("deep/a");
      assert.equal((await storage.stat("deep/a/b/c")).type, "directory");
    });

    it("sets modification times where the capabilities say so", async (t) => {
      if (!storage.capabilities.setMtime) {
        t.diagnostic("setMtime unsupported by this server: checking that it says so");
        await rejectsWith(storage.setMtime("x", new Date()), "UNSUPPORTED");
        return;
      }
      await storage.write("mtime/object", Buffer.from("x"));
      const when = new Date("2021-06-15T08:09:10Z");
      await storage.setMtime("mtime/object", when);
      const seen = (await storage.stat("mtime/object")).mtime;
      assert.ok(seen, "the server reports no mtime");
      assert.ok(Math.abs(seen.getTime() - when.getTime()) <= 1000, `got ${seen.toISOString()}`);
    });

    it("keeps names with spaces and non-ASCII characters", async () => {
      const names = options.asciiNamesOnly
        ? ["with space", "dash-and_underscore"]
        : ["with space", "ünïcødé", "日本語", "emoji-🙂"];
      for (const n of names) await storage.write(`names/${n}`, Buffer.from(n));
      assert.deepEqual(await listNames(storage, "names"), [...names].sort());
      for (const n of names) {
        assert.equal((await readAll(storage.read(`names/${n}`))).toString(), n);
      }
    });

    it("refuses keys with CR, LF, NUL or .. before sending anything", async () => {
      for (const key of ["a\r\nDELE x", "a\nb", "a\0b", "../escape", "a/../../b", "/abs"]) {
        await rejectsWith(storage.write(key, Buffer.from("x")), "INVALID");
        await rejectsWith(storage.stat(key), "INVALID");
      }
    });

    it("runs 8 writes at once", async (t) => {
      const blobs = Array.from({ length: 8 }, () => randomBytes(100_000));
      await Promise.all(blobs.map((b, i) => storage.write(`parallel/${String(i)}`, b)));
      const back = await Promise.all(
        blobs.map((_, i) => readAll(storage.read(`parallel/${String(i)}`))),
      );
      back.forEach((b, i) => {
        assert.ok(b.equals(blobs[i] ?? Buffer.alloc(0)));
      });
      const raw = await rawListing(t, "parallel");
      if (raw !== undefined) assert.deepEqual(raw, blobs.map((_, i) => String(i)).sort());
    });

    it("describes itself", async () => {
      const info = await storage.info();
      assert.ok(info.protocol);
      assert.ok(info.root);
    });
  });
}
