import { storageConformance } from "../../../test/conformance/storage-suite.ts";
import { keyPath } from "../keys.ts";
import { openStorage } from "../open.ts";
import { parseSettings } from "../settings.ts";
import { MemoryServer } from "./memory.ts";

/** The server and backup directory of the storage last opened, for the raw hooks. */
let opened: { server: MemoryServer; root: string } | undefined;

function current(): { server: MemoryServer; root: string } {
  if (!opened) throw new Error("no memory storage was opened");
  return opened;
}

storageConformance("memory", {
  open: async () => {
    const server = new MemoryServer();
    const storage = await openStorage(parseSettings({ type: "memory" }), { memory: server });
    const { root } = await storage.info();
    if (root === undefined) throw new Error("the memory storage does not tell its root");
    opened = { server, root };
    return storage;
  },
  // The server's tree itself, temporary objects included.
  rawNames: (dir) => {
    const { server, root } = current();
    const path = keyPath(root, dir);
    if (server.nodes.get(path)?.type !== "directory") {
      return Promise.reject(new Error(`no directory "${path}" on the memory server`));
    }
    const prefix = path === "/" ? "/" : `${path}/`;
    return Promise.resolve(
      [...server.nodes.keys()]
        .filter(
          (key) => key.startsWith(prefix) && key !== "/" && !key.slice(prefix.length).includes("/"),
        )
        .map((key) => key.slice(prefix.length)),
    );
  },
  rawWrite: (key, data) => {
    const { server, root } = current();
    server.nodes.set(`${root}/${key}`, {
      type: "file",
      data: Buffer.from(data),
      mtime: new Date(),
    });
    return Promise.resolve();
  },
});
