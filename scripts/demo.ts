/**
 * `npm run demo`: ferry's main job on an embedded default, with no server. Creates a repository
 * in a temporary directory, backs up a sample folder twice (the second run after a change), lists
 * the snapshots, restores the latest and compares it with the source, file by file. Every step is
 * a real ferry command, printed before it runs.
 */
import { cp, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/main.ts";
import { differences, fingerprint } from "../test/repo/compare.ts";

const root = await mkdtemp(join(tmpdir(), "ferry-demo-"));
const source = join(root, "website");
const repository = join(root, "repository");
const restored = join(root, "restored");

async function ferry(...args: string[]): Promise<void> {
  process.stdout.write(
    `\n$ ferry ${args.map((a) => (a.includes(" ") ? JSON.stringify(a) : a)).join(" ")}\n`,
  );
  const code = await main(args);
  if (code !== 0) throw new Error(`ferry ${args[0] ?? ""} exited with ${code}`);
}

try {
  process.env.FERRY_PASSWORD = "demo password: use a strong one of your own";
  process.env.FERRY_CACHE = join(root, "cache");
  // Sample data: ferry's own sources and docs, plus a symlink and a larger generated file.
  await cp(join(import.meta.dirname, "../src"), join(source, "src"), { recursive: true });
  await cp(join(import.meta.dirname, "../docs"), join(source, "docs"), { recursive: true });
  await writeFile(
    join(source, "access.log"),
    Array.from(
      { length: 60000 },
      (_, i) =>
        `127.0.0.1 - - [21/Nov/2026:10:${String(i % 60).padStart(2, "0")}:00] "GET /page/${i % 977} HTTP/1.1" 200 ${i % 5000}\n`,
    ).join(""),
  );
  await symlink("docs/format.md", join(source, "FORMAT.md"));
  process.stdout.write(`ferry demo: a repository in ${repository}, backing up ${source}\n`);

  await ferry("init", "-d", repository);
  await ferry("backup", "-d", repository, source, "--tag", "demo");
  await writeFile(join(source, "access.log"), "127.0.0.1 - - one more line\n", { flag: "a" });
  await ferry("backup", "-d", repository, source, "--tag", "demo");
  await ferry("snapshots", "-d", repository);
  await ferry("restore", "latest", "-d", repository, "--target", restored);
  await ferry("check", "-d", repository, "--read-data");

  const before = await fingerprint(source);
  const after = await fingerprint(join(restored, source));
  const different = differences(before, after);
  if (different.length > 0) {
    throw new Error(`the restore differs from the source: ${different.slice(0, 5).join("; ")}`);
  }
  process.stdout.write(
    `\nRestored ${after.size} entries; contents, modes, mtimes and links are identical to the source.\n`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
