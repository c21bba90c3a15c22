/**
 * The repository end to end over real servers: init, backup, an unchanged backup, a backup after
 * a change, restore and compare, check --read-data, and a restore from a second machine (empty
 * cache) — on FTP, FTPS explicit and implicit (vsftpd, session reuse required), ProFTPD with TLS,
 * and SFTP with a key and as an sftp-only chrooted user (OpenSSH).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/backup/archiver.ts";
import { check } from "../../src/backup/check.ts";
import { restore } from "../../src/backup/restorer.ts";
import { Repository } from "../../src/repo/repository.ts";
import { openStorage } from "../../src/storage/open.ts";
import { parseSettings } from "../../src/storage/settings.ts";
import type { Storage } from "../../src/storage/storage.ts";
import { differences, fingerprint } from "../repo/compare.ts";
import { TEST_KDF, tempDir } from "../repo/helpers.ts";
import type { RunningServer, ServerKind } from "./harness.ts";
import { useServer } from "./use-server.ts";

interface Variant {
  kind: ServerKind;
  label: string;
  settings: (running: RunningServer, path: string) => Record<string, unknown>;
}

function ftp(tls: "none" | "explicit" | "implicit") {
  return (running: RunningServer, path: string): Record<string, unknown> => ({
    type: "ftp",
    host: running.host,
    port: running.port,
    user: running.users.password.name,
    password: running.users.password.password,
    path,
    tls,
    ...(tls === "none" || running.caFile === undefined ? {} : { caFile: running.caFile }),
    maxRetries: 2,
  });
}

const variants: Variant[] = [
  { kind: "vsftpd", label: "FTP (vsftpd)", settings: ftp("none") },
  {
    kind: "vsftpd",
    label: "FTPS explicit, session reuse required (vsftpd)",
    settings: ftp("explicit"),
  },
  { kind: "vsftpd-implicit", label: "FTPS implicit (vsftpd)", settings: ftp("implicit") },
  { kind: "proftpd", label: "FTPS explicit (ProFTPD)", settings: ftp("explicit") },
  {
    kind: "openssh",
    label: "SFTP with a key (OpenSSH)",
    settings: (running, path) => {
      const user = running.users.key;
      if (user?.privateKeyPath === undefined) throw new Error("the harness gave no key user");
      return {
        type: "sftp",
        host: running.host,
        port: running.port,
        hostKey: running.hostKeyFingerprint,
        user: user.name,
        privateKey: user.privateKeyPath,
        path,
        maxRetries: 2,
      };
    },
  },
  {
    kind: "openssh",
    label: "SFTP, sftp-only chroot (OpenSSH)",
    settings: (running, path) => {
      const user = running.users.chroot;
      if (user === undefined) throw new Error("the harness gave no chroot user");
      return {
        type: "sftp",
        host: running.host,
        port: running.port,
        hostKey: running.hostKeyFingerprint,
        user: user.name,
        password: user.password,
        path: `upload/${path}`,
        maxRetries: 2,
      };
    },
  },
];

let source: string;
let work: string;
let cleanup: () => Promise<void>;

before(async () => {
  ({ dir: work, cleanup } = await tempDir("ferry-e2e-"));
  source = join(work, "source");
  await mkdir(join(source, "www/assets"), { recursive: true });
  for (let i = 0; i < 150; i++)
    await writeFile(join(source, "www", `page-${i}.html`), `<h1>Page ${i}</h1>\n`.repeat(20 + i));
  await writeFile(join(source, "www/assets/random.bin"), randomBytes(3 * 1024 * 1024));
  await writeFile(
    join(source, "dump.sql"),
    Array.from(
      { length: 200000 },
      (_, i) => `INSERT INTO t VALUES (${i}, 'row ${i % 1000}');\n`,
    ).join(""),
  );
  await writeFile(join(source, "empty"), "");
  await symlink("www/page-1.html", join(source, "index.html"));
});
after(() => cleanup());

for (const variant of variants) {
  const server = await useServer(variant.kind);
  if (server === undefined) continue;
  describe(`repository end to end: ${variant.label}`, () => {
    let storage: Storage;
    let settings: Record<string, unknown>;
    before(async () => {
      settings = variant.settings(await server.get(), `repo-${randomBytes(4).toString("hex")}`);
      storage = await openStorage(parseSettings(settings), {
        retry: { baseDelayMs: 50, maxDelayMs: 200 },
      });
    });
    after(() => storage.close());

    it("backs up, skips unchanged files, restores exactly and checks clean", async () => {
      const cache = join(work, `cache-${randomBytes(4).toString("hex")}`);
      // Small packs so even this small tree spreads over several packs and connections.
      const repo = await Repository.init(storage, "pw", {
        kdf: TEST_KDF,
        cacheRoot: cache,
        packSize: { target: 2 * 1024 * 1024, max: 8 * 1024 * 1024 },
      });
      const first = await backup(repo, { paths: [source] });
      assert.equal(first.snapshot.summary?.filesNew, 153);
      const second = await backup(repo, { paths: [source] });
      const summary = second.snapshot.summary;
      assert.ok(summary);
      assert.equal(summary.filesUnmodified, 153);
      // Only trees of ancestors whose metadata moved (a temp directory's mtime) may be new.
      assert.ok(summary.blobsAdded <= source.split("/").length, "no data re-uploaded");
      await writeFile(join(source, "www/page-7.html"), "changed\n");
      const third = await backup(repo, { paths: [source] });
      assert.equal(third.snapshot.summary?.filesChanged, 1);

      const target = join(work, `restore-${randomBytes(4).toString("hex")}`);
      await restore(repo, { id: third.id, snapshot: third.snapshot }, { target, path: source });
      assert.deepEqual(differences(await fingerprint(source), await fingerprint(target)), []);

      const report = await check(repo, { readData: true });
      assert.deepEqual(report.errors, []);

      // Another machine: no cache, the same password.
      const elsewhere = await Repository.open(storage, "pw", {
        cacheRoot: join(work, `cache-${randomBytes(4).toString("hex")}`),
      });
      await elsewhere.loadIndex();
      const again = join(work, `restore-${randomBytes(4).toString("hex")}`);
      await restore(elsewhere, await elsewhere.resolveSnapshot("latest"), {
        target: again,
        path: source,
      });
      assert.deepEqual(differences(await fingerprint(source), await fingerprint(again)), []);
    });
  });
}
