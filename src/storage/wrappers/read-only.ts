/**
 * Read-only wrapper: every write (write, remove, removeDir, rename, mkdir, setMtime) is refused
 * with UNSUPPORTED before anything is sent; reads pass through.
 */
import { StorageError } from "../errors.ts";
import type { Storage } from "../storage.ts";

function refuse(operation: string, key: string): Promise<never> {
  return Promise.reject(
    new StorageError(
      "UNSUPPORTED",
      `Refusing to ${operation} "${key}": this destination is read-only. Remove readOnly from its settings to write to it.`,
      { key, retriable: false },
    ),
  );
}

export function withReadOnly(storage: Storage): Storage {
  return {
    get capabilities() {
      return { ...storage.capabilities, readOnly: true };
    },
    stat: (key) => storage.stat(key),
    list: (dir, options) => storage.list(dir, options),
    read: (key, options) => storage.read(key, options),
    write: (key) => refuse("write", key),
    remove: (key) => refuse("remove", key),
    removeDir: (key) => refuse("remove the directory", key),
    rename: (from) => refuse("rename", from),
    mkdir: (key) => refuse("create the directory", key),
    setMtime: (key) => refuse("set the modification time of", key),
    freeSpace: () => storage.freeSpace(),
    info: () => storage.info(),
    close: () => storage.close(),
  };
}
