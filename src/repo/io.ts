/** Small helpers for reading whole objects and running bounded parallel work. */
import type { Storage, ReadOptions } from "../storage/storage.ts";

/** Reads an object (or a range of it) into one buffer. */
export async function readAll(
  storage: Storage,
  key: string,
  options?: ReadOptions,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of storage.read(key, options)) parts.push(part as Buffer);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** Names (no temp objects) directly in a directory key; an absent directory lists as empty. */
export async function listNames(
  storage: Storage,
  dir: string,
): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  try {
    for await (const entry of storage.list(dir)) out.push({ name: entry.name, size: entry.size });
  } catch (error) {
    if ((error as { code?: unknown }).code === "NOT_FOUND") return [];
    throw error;
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` at once; rejects on the first failure. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, run));
  return results;
}
