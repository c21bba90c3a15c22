import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { storageConformance } from "../../../test/conformance/storage-suite.ts";
import { openStorage } from "../open.ts";
import { parseSettings } from "../settings.ts";

const base = await mkdtemp(join(tmpdir(), "ferry-local-"));
after(() => rm(base, { recursive: true, force: true }));

storageConformance("local", {
  open: () => openStorage(parseSettings({ type: "local", path: join(base, "backups/nested") })),
});
