import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { openCatalogDatabase } from "./database.ts";
import { Destinations } from "./destinations.ts";
import { tempDir } from "./temp-dir.test-helper.ts";

function fresh(): {
  dir: string;
  destinations: Destinations;
  db: ReturnType<typeof openCatalogDatabase>;
} {
  const dir = tempDir();
  const db = openCatalogDatabase(dir);
  let tick = 0;
  const now = (): string => new Date(Date.UTC(2025, 0, 1, 0, 0, tick++)).toISOString();
  return { dir, db, destinations: new Destinations(db, randomBytes(32), now) };
}

const nas = { name: "nas", type: "sftp", settings: { host: "nas.local", port: 22 } };

describe("destinations", () => {
  it("add, get, list, update and remove", () => {
    const { destinations, db } = fresh();
    const added = destinations.add({
      ...nas,
      secrets: { password: "pw" },
      owner: "ann",
      notes: "attic",
    });
    assert.equal(added.name, "nas");
    assert.deepEqual(added.settings, { host: "nas.local", port: 22 });
    assert.deepEqual(added.secretNames, ["password"]);
    assert.equal(added.owner, "ann");
    assert.equal(added.readOnly, false);
    assert.equal(added.freeSpaceLimit, null);
    assert.deepEqual(destinations.get("nas"), added);
    assert.equal(destinations.get("other"), undefined);
    destinations.add({ name: "disk", type: "local", settings: { path: "/mnt" }, readOnly: true });
    assert.deepEqual(
      destinations.list().map((d) => d.name),
      ["disk", "nas"],
    );

    const updated = destinations.update("nas", {
      settings: { host: "nas2.local" },
      readOnly: true,
      freeSpaceLimit: "10GiB",
      notes: null,
      secrets: { password: null, passphrase: "pp" },
    });
    assert.deepEqual(updated.settings, { host: "nas2.local" });
    assert.equal(updated.readOnly, true);
    assert.equal(updated.freeSpaceLimit, "10GiB");
    assert.equal(updated.notes, null);
    assert.equal(updated.owner, "ann");
    assert.deepEqual(updated.secretNames, ["passphrase"]);
    assert.equal(updated.created, added.created);
    assert.notEqual(updated.updated, added.updated);
    assert.equal(destinations.secret("nas", "passphrase"), "pp");
    assert.equal(destinations.secret("nas", "password"), undefined);

    destinations.remove("nas");
    assert.deepEqual(
      destinations.list().map((d) => d.name),
      ["disk"],
    );
    assert.throws(
      () => {
        destinations.remove("nas");
      },
      {
        code: "NOT_FOUND",
        message: /No destination named "nas"/,
      },
    );
    assert.throws(() => destinations.update("nas", {}), { code: "NOT_FOUND" });
    db.close();
  });

  it("keep names unique, with the way out in the error", () => {
    const { destinations, db } = fresh();
    destinations.add(nas);
    assert.throws(() => destinations.add({ ...nas, secrets: { password: "x" } }), {
      code: "EXISTS",
      message:
        'A destination named "nas" already exists; choose another name or use "ferry destination edit nas"',
    });
    assert.equal(db.prepare("SELECT count(*) AS n FROM secrets").get()?.["n"], 0);
    db.close();
  });

  it("limit names to 1–40 characters without control characters", () => {
    const { destinations, db } = fresh();
    const forty = "n".repeat(40);
    assert.equal(destinations.add({ ...nas, name: forty }).name, forty);
    assert.equal(destinations.add({ ...nas, name: "é".repeat(40) }).name, "é".repeat(40));
    assert.throws(() => destinations.add({ ...nas, name: "n".repeat(41) }), {
      code: "NAME",
      message: /1 to 40.*41/,
    });
    assert.throws(() => destinations.add({ ...nas, name: "" }), { code: "NAME" });
    assert.throws(() => destinations.add({ ...nas, name: "a\nb" }), {
      code: "NAME",
      message: /control/,
    });
    assert.throws(() => destinations.add({ ...nas, name: "a\u007fb" }), { code: "NAME" });
    assert.throws(() => destinations.rename(forty, "x".repeat(41)), { code: "NAME" });
    db.close();
  });

  it("refuse secrets among the plain settings", () => {
    const { destinations, db } = fresh();
    assert.throws(() => destinations.add({ ...nas, settings: { password: "pw" } }), {
      code: "INVALID",
    });
    destinations.add(nas);
    assert.throws(() => destinations.update("nas", { settings: { privateKey: "k" } }), {
      code: "INVALID",
    });
    db.close();
  });

  it("rename keeps the secrets readable and refuses a taken name", () => {
    const { destinations, db } = fresh();
    destinations.add({ ...nas, secrets: { password: "pw" } });
    destinations.add({ ...nas, name: "other" });
    assert.throws(() => destinations.rename("nas", "other"), { code: "EXISTS" });
    const renamed = destinations.rename("nas", "nas-attic");
    assert.equal(renamed.name, "nas-attic");
    assert.equal(destinations.get("nas"), undefined);
    assert.equal(destinations.secret("nas-attic", "password"), "pw");
    assert.throws(() => destinations.rename("nas", "x"), { code: "NOT_FOUND" });
    db.close();
  });

  it("remove cascades to secrets, pins, keys and test results", () => {
    const { destinations, db } = fresh();
    const { id } = destinations.add({ ...nas, secrets: { password: "pw" } });
    db.prepare("INSERT INTO trust_pins VALUES (?, 'host-key', 'SHA256:x', 't')").run(id);
    db.prepare("INSERT INTO generated_keys VALUES (?, 'ssh-ed25519 AAA', 'v1:x', 't')").run(id);
    db.prepare("INSERT INTO test_results VALUES (?, 't', 1, '{}')").run(id);
    destinations.remove("nas");
    for (const table of ["secrets", "trust_pins", "generated_keys", "test_results"]) {
      assert.equal(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()?.["n"], 0, table);
    }
    db.close();
  });

  it("seal secrets to their destination: a copied row does not open", () => {
    const { destinations, db } = fresh();
    const a = destinations.add({ ...nas, secrets: { password: "pw-a" } });
    const b = destinations.add({ ...nas, name: "b" });
    db.prepare(
      "INSERT INTO secrets SELECT ?, name, sealed FROM secrets WHERE destination_id = ?",
    ).run(b.id, a.id);
    assert.throws(
      () => destinations.secret("b", "password"),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, new RegExp(`destination:${b.id}:password`));
        assert.ok(!error.message.includes("pw-a"));
        return true;
      },
    );
    db.close();
  });
});
