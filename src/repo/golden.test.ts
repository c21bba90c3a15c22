/**
 * Golden vectors: the bytes of format version 1 (docs/format.md), and a repository written by the
 * first version of the code (test/fixtures/repo-v1, made by scripts/make-golden-repo.ts) that
 * every later version must read. A failure here is a format break, not a fixture to regenerate.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openStorage } from "../storage/open.ts";
import { parseSettings } from "../storage/settings.ts";
import { blobId, open, seal } from "./crypto.ts";
import { decodeHeader, encodeHeader } from "./pack.ts";
import { Repository } from "./repository.ts";
import { decodeTree, encodeTree, type TreeNode } from "./tree.ts";

const KEY = Buffer.alloc(32, 0x11);
const NONCE = Buffer.alloc(12, 0x22);
const AD = Buffer.from("ferry/config");
const PLAIN = [Buffer.from([0]), Buffer.from("golden")];

describe("format v1 golden vectors", () => {
  it("seals with AES-256-GCM and ChaCha20-Poly1305 as specified", () => {
    const gcm = "0122222222222222222222222217906825a4aaf13bf107d9c64a2ce2d5d66fd9f98b78a9";
    const chacha = "022222222222222222222222228512ba7259f5c315575e4326d71c836eec9ec21495133d";
    assert.equal(seal("aes-256-gcm", KEY, PLAIN, AD, NONCE).toString("hex"), gcm);
    assert.equal(seal("chacha20-poly1305", KEY, PLAIN, AD, NONCE).toString("hex"), chacha);
    for (const sealed of [gcm, chacha]) {
      assert.equal(
        open(KEY, Buffer.from(sealed, "hex"), AD, "vector").toString("latin1"),
        "\0golden",
      );
      assert.throws(
        () => open(KEY, Buffer.from(sealed, "hex"), Buffer.from("ferry/index"), "vector"),
        /failed authentication/,
      );
    }
  });

  it("derives blob ids with HMAC-SHA-256", () => {
    assert.equal(
      blobId(KEY, Buffer.from("golden")).toString("hex"),
      "d9b64b7177d3918a7ca315b35f831fa32f3e3a38d5b4203f0b1e778a656150f7",
    );
  });

  it("encodes pack headers as 41-byte entries after the magic", () => {
    const blobs = [
      { type: "data" as const, id: Buffer.alloc(32, 0xab), offset: 0, length: 100, rawLength: 70 },
      { type: "tree" as const, id: Buffer.alloc(32, 0xcd), offset: 100, length: 50, rawLength: 40 },
    ];
    const hex =
      "66706801" +
      "00" +
      "ab".repeat(32) +
      "64000000" +
      "46000000" +
      "01" +
      "cd".repeat(32) +
      "32000000" +
      "28000000";
    assert.equal(encodeHeader(blobs).toString("hex"), hex);
    assert.deepEqual(
      decodeHeader(Buffer.from(hex, "hex"), "vector").map((b) => ({ ...b, id: Buffer.from(b.id) })),
      blobs,
    );
  });

  it("encodes trees canonically: sorted by name, fields in order", () => {
    const nodes: TreeNode[] = [
      {
        name: "b",
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: "1",
        ctime: "2",
        size: 3,
        inode: 4,
        device: 5,
        links: 1,
        content: ["ab".repeat(32)],
      },
      {
        name: "a",
        type: "symlink",
        mode: 0o777,
        uid: 1,
        gid: 2,
        user: "u",
        group: "g",
        mtime: "10",
        ctime: "20",
        size: 0,
        inode: 6,
        device: 5,
        links: 1,
        target: "b",
      },
    ];
    const json =
      '{"nodes":[{"name":"a","type":"symlink","mode":511,"uid":1,"gid":2,"user":"u","group":"g","mtime":"10","ctime":"20","size":0,"inode":6,"device":5,"links":1,"target":"b"},' +
      '{"name":"b","type":"file","mode":420,"uid":0,"gid":0,"mtime":"1","ctime":"2","size":3,"inode":4,"device":5,"links":1,"content":["' +
      "ab".repeat(32) +
      '"]}]}';
    assert.equal(Buffer.from(encodeTree(nodes)).toString(), json);
    assert.deepEqual(decodeTree(Buffer.from(json), "vector"), [nodes[1], nodes[0]]);
  });
});

describe("the version 1 golden repository", () => {
  it("opens, lists its snapshot, and reads back every file", async () => {
    const path = join(import.meta.dirname, "../../test/fixtures/repo-v1");
    const storage = await openStorage(parseSettings({ type: "local", path, readOnly: true }));
    try {
      await assert.rejects(Repository.open(storage, "wrong", { cacheRoot: null }), {
        code: "WRONG_PASSWORD",
      });
      const repo = await Repository.open(storage, "golden", { cacheRoot: null });
      assert.equal(repo.config.version, 1);
      await repo.loadIndex();
      const snapshots = await repo.listSnapshots();
      assert.deepEqual(
        snapshots.map((s) => s.id),
        ["d67ddebf07396eaba2826dbfa54bf6ab664f50d3553c4c39f7bb230ed8fdd072"],
      );
      const [{ snapshot } = assert.fail()] = snapshots;
      assert.equal(snapshot.host, "golden-host");
      assert.deepEqual(snapshot.tags, ["golden"]);
      assert.equal(
        snapshot.tree,
        "c3498ba88fa8a212ae4948f35fe68705d651ae979284d6e07e8b34a8fbdb7e06",
      );
      let nodes = await repo.loadTree(snapshot.tree);
      for (const part of (snapshot.paths[0] ?? "").split("/").filter((p) => p !== "")) {
        nodes = await repo.loadTree(
          nodes.find((n) => n.name === part)?.subtree ?? assert.fail(part),
        );
      }
      const read = async (node: TreeNode | undefined): Promise<Buffer> =>
        Buffer.concat(
          await Promise.all(
            (node?.content ?? assert.fail("no content")).map((id) => repo.loadBlob("data", id)),
          ),
        );
      assert.deepEqual(
        await read(nodes.find((n) => n.name === "zeros.bin")),
        Buffer.alloc(300 * 1024),
      );
      const docs = await repo.loadTree(
        nodes.find((n) => n.name === "docs")?.subtree ?? assert.fail("docs"),
      );
      assert.equal(
        (await read(docs.find((n) => n.name === "hello.txt"))).toString(),
        "Hello from format version 1.\n",
      );
    } finally {
      await storage.close();
    }
  });
});
