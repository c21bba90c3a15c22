/** Compares directory trees for restore tests: type, mode, mtime, content hash, link target. */
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join, relative } from "node:path";

/** Relative path → a description that differs when anything a restore must keep differs. */
export async function fingerprint(
  dir: string,
  options: { mtimes?: boolean } = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (path: string): Promise<void> => {
    for (const name of await readdir(path)) {
      const abs = join(path, name);
      const st = await lstat(abs);
      const key = relative(dir, abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.set(key, `link ${await readlink(abs)}`);
      else if (st.isDirectory()) {
        out.set(key, `dir ${mode}`);
        await visit(abs);
      } else {
        const hash = createHash("sha256")
          .update(await readFile(abs))
          .digest("hex");
        const mtime = options.mtimes === false ? "" : ` ${Math.floor(st.mtimeMs)}`;
        out.set(key, `file ${mode}${mtime} ${st.size} ${hash}`);
      }
    }
  };
  await visit(dir);
  return out;
}

/** Lines describing how two fingerprints differ (empty when equal). */
export function differences(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, print] of expected) {
    const got = actual.get(path);
    if (got !== print) out.push(`${path}: expected ${print}, got ${got ?? "nothing"}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) out.push(`${path}: unexpected`);
  return out;
}
