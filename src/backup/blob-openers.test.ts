import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isRepoError } from "../repo/errors.ts";
import { blobOpener } from "./blob-openers.ts";
import { noise, RepoBuilder } from "./restore-fixtures.test-helper.ts";

describe("blob openers", () => {
  for (const workers of [0, 2]) {
    it(`open and authenticate data blobs (${workers} workers)`, async (t) => {
      const builder = await RepoBuilder.create();
      const { repo } = builder;
      const opener = blobOpener(repo, 0, { workers, threshold: 0 });
      t.after(() => opener.close());
      const plains = [noise(70_000, 1), Buffer.from("small"), Buffer.alloc(0), noise(5, 2)];
      const sealed = plains.map((plain) => {
        const id = repo.blobId(plain);
        return { id: id.toString("hex"), bytes: repo.sealBlob("data", id, plain) };
      });
      // A view into a larger buffer, as blobs arrive from the network.
      const network = Buffer.concat([Buffer.from("head"), sealed[0]?.bytes ?? Buffer.alloc(0)]);
      const view = network.subarray(4);
      const opened = await Promise.all(
        sealed.map((s, i) =>
          opener.open(s.id, i === 0 ? view : Buffer.from(s.bytes), plains[i]?.length ?? 0),
        ),
      );
      assert.deepEqual(opened, plains);
      // A view is copied, never moved: the rest of its buffer may hold other blobs.
      assert.equal(network.length, (sealed[0]?.bytes.length ?? 0) + 4);
      // A buffer owning its memory is moved to a worker (left empty here), not copied.
      const own = Buffer.from(sealed[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual(await opener.open(sealed[0]?.id ?? "", own, 70_000), plains[0]);
      assert.equal(own.buffer.byteLength === 0, workers > 0);

      const first = sealed[0];
      assert.ok(first);
      const tampered = Buffer.from(first.bytes);
      tampered[40] = (tampered[40] ?? 0) ^ 1;
      await assert.rejects(opener.open(first.id, tampered, 70_000), (error) => {
        assert.ok(isRepoError(error, "DAMAGED"), String(error));
        assert.match(error.message, /failed authentication/);
        return true;
      });
      const other = sealed[1];
      assert.ok(other);
      await assert.rejects(opener.open(other.id, Buffer.from(first.bytes), 70_000), {
        code: "DAMAGED",
      });
      // Still usable after failures.
      assert.deepEqual(await opener.open(other.id, Buffer.from(other.bytes), 5), plains[1]);
    });
  }
});
