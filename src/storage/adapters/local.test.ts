import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { storageConformance } from "../../../test/conformance/storage-suite.ts";
import { openStorage } from "../open.ts";
import { parseSettings } from "../settings.ts";

const base = await mkdtemp(join(tmpdir(), "ferry-local-"));
after(() => rm(base, { recursive: true, force: true }));
const root = join(base, "backups/nested");

storageConformance("local", {
  open: () => openStorage(parseSettings({ type: "local", path: root })),
  // The directory on disk, temporary objects included.
  rawNames: (dir) => readdir(join(root, dir)),
  rawWrite: (key, data) => writeFile(join(root, key), data),
});
