import { storageConformance } from "../../../test/conformance/storage-suite.ts";
import { openStorage } from "../open.ts";
import { parseSettings } from "../settings.ts";
import { MemoryServer } from "./memory.ts";

storageConformance("memory", {
  open: () => openStorage(parseSettings({ type: "memory" }), { memory: new MemoryServer() }),
});
