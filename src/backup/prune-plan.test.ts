import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { PackContents } from "../repo/index-file.ts";
import type { BlobType } from "../repo/pack.ts";
import { planPrune, type PackBlob } from "./prune-plan.ts";

const hex = (n: number): string => n.toString(16).padStart(64, "0");

function pack(id: number, blobs: [number, number, (BlobType | undefined)?][]): PackContents {
  let offset = 0;
  return {
    id: hex(id),
    blobs: blobs.map(([blob, length, type]) => {
      const entry: PackBlob = {
        type: type ?? "data",
        id: hex(blob),
        offset,
        length,
        rawLength: length,
      };
      offset += length;
      return entry;
    }),
  };
}

function byId(...packs: PackContents[]): Map<string, PackContents> {
  return new Map(packs.map((p) => [p.id, p]));
}

function storedAll(packs: Map<string, PackContents>): Map<string, number> {
  return new Map([...packs.keys()].map((id) => [id, 1]));
}

const ids = (packs: readonly PackContents[]): string[] => packs.map((p) => p.id);

describe("planPrune", () => {
  it("removes unused packs, repacks mostly unused ones and keeps the rest", () => {
    const packs = byId(
      pack(1, [
        [1, 100],
        [2, 100],
      ]),
      pack(2, [
        [3, 100],
        [4, 100],
      ]),
      pack(3, [
        [5, 100],
        [6, 100],
        [7, 100],
        [8, 100],
      ]),
    );
    const used = new Map<string, BlobType>([
      [hex(3), "data"],
      [hex(5), "data"],
      [hex(6), "data"],
      [hex(7), "data"],
    ]);
    const stored = storedAll(packs).set(hex(9), 42);
    const plan = planPrune(packs, stored, used, 0.25);
    assert.deepEqual(ids(plan.remove), [hex(1)]);
    assert.deepEqual(
      plan.repack.map((r) => [r.pack.id, r.move.map((b) => b.id)]),
      [[hex(2), [hex(3)]]],
    );
    assert.deepEqual(ids(plan.keep), [hex(3)]);
    assert.equal(plan.keptUnusedBytes, 100);
    assert.deepEqual(plan.unreferenced, [{ id: hex(9), size: 42 }]);
    // Allowing half a pack unused keeps pack 2 as it is.
    assert.deepEqual(ids(planPrune(packs, stored, used, 0.5).keep), [hex(2), hex(3)]);
  });

  it("keeps one copy of a duplicate, in the fuller pack, and drops missing unused packs", () => {
    const packs = byId(
      pack(1, [[1, 100]]),
      pack(2, [
        [1, 100],
        [2, 100],
      ]),
      pack(3, [[3, 100]]),
    );
    const used = new Map<string, BlobType>([
      [hex(1), "data"],
      [hex(2), "data"],
    ]);
    const stored = storedAll(packs);
    stored.delete(hex(3));
    const plan = planPrune(packs, stored, used, 0.25);
    assert.deepEqual(ids(plan.keep), [hex(2)]);
    assert.deepEqual(ids(plan.remove), [hex(1)]);
    assert.deepEqual(ids(plan.missing), [hex(3)]);
    assert.deepEqual(plan.lost, []);
    // A used blob that only a missing pack holds, or held as another type, is lost.
    const lost = planPrune(
      packs,
      stored,
      new Map<string, BlobType>([
        [hex(3), "data"],
        [hex(2), "tree"],
      ]),
      0.25,
    );
    assert.deepEqual(lost.lost, [hex(2), hex(3)]);
  });

  it("never loses a used blob and never keeps a pack over the limit", () => {
    const blob = fc.record({
      id: fc.integer({ min: 0, max: 30 }),
      length: fc.integer({ min: 1, max: 1000 }),
      tree: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(fc.array(blob, { maxLength: 8 }), { maxLength: 10 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (layout, usedIds, storedFlags, maxUnused) => {
          // A blob id has one type everywhere, as content addressing guarantees.
          const typeOf = new Map<number, BlobType>();
          const packs = byId(
            ...layout.map((blobs, i) =>
              pack(
                i + 1,
                blobs.map((b) => {
                  if (!typeOf.has(b.id)) typeOf.set(b.id, b.tree ? "tree" : "data");
                  return [b.id, b.length, typeOf.get(b.id)];
                }),
              ),
            ),
          );
          const stored = new Map<string, number>();
          for (const [i, id] of [...packs.keys()].entries()) {
            if (storedFlags[i] === true) stored.set(id, 1);
          }
          const used = new Map<string, BlobType>(
            usedIds.filter((id) => typeOf.has(id)).map((id) => [hex(id), typeOf.get(id) ?? "data"]),
          );
          const plan = planPrune(packs, stored, used, maxUnused);

          // Every listed pack is decided once.
          const decided = [
            ...ids(plan.keep),
            ...ids(plan.remove),
            ...plan.repack.map((r) => r.pack.id),
            ...ids(plan.missing),
          ].sort();
          assert.deepEqual(decided, [...packs.keys()].sort());
          // Used blobs are kept or moved exactly once, unless no stored pack holds them.
          const inKept = new Set(plan.keep.flatMap((p) => p.blobs.map((b) => b.id)));
          const moved = plan.repack.flatMap((r) => r.move.map((b) => b.id));
          assert.equal(new Set(moved).size, moved.length);
          for (const id of moved) assert.ok(!inKept.has(id));
          const inStored = new Set(
            [...packs.values()]
              .filter((p) => stored.has(p.id))
              .flatMap((p) => p.blobs.map((b) => b.id)),
          );
          for (const id of used.keys()) {
            if (inStored.has(id)) assert.ok(inKept.has(id) || moved.includes(id), id);
            else assert.ok(plan.lost.includes(id));
          }
          // Moved blobs come from the pack being repacked; unused blobs are never moved.
          for (const { pack: source, move } of plan.repack) {
            for (const b of move) {
              assert.ok(source.blobs.includes(b));
              assert.equal(used.get(b.id), b.type);
            }
          }
          // Kept packs need something and are not over the limit (duplicates count as unused).
          for (const p of plan.keep) {
            assert.ok(p.blobs.some((b) => used.has(b.id)));
            const total = p.blobs.reduce((sum, b) => sum + b.length, 0);
            const unused = p.blobs
              .filter((b) => !used.has(b.id))
              .reduce((sum, b) => sum + b.length, 0);
            assert.ok(unused <= maxUnused * total);
          }
          if (maxUnused === 1) assert.deepEqual(plan.repack, []);
        },
      ),
    );
  });
});
