/**
 * Trees: one directory's listing, stored as a blob. Encoding is canonical (nodes sorted by name,
 * fields in a fixed order, absent fields left out) so an unchanged directory gives the same blob
 * id and is stored once.
 */
import { z } from "zod";
import { RepoError } from "./errors.ts";

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const nsTime = z.string().regex(/^-?\d{1,22}$/);

export const NODE_TYPES = ["file", "dir", "symlink", "dev", "chardev", "fifo", "socket"] as const;
/** What a tree node is. Devices, FIFOs and sockets are recorded, never read. */
export type NodeType = (typeof NODE_TYPES)[number];

const nodeSchema = z.object({
  name: z.string().min(1),
  type: z.enum(NODE_TYPES),
  mode: z.int().min(0).max(0o7777),
  uid: z.int().min(0),
  gid: z.int().min(0),
  user: z.string().optional(),
  group: z.string().optional(),
  mtime: nsTime,
  ctime: nsTime,
  size: z.int().min(0),
  inode: z.int().min(0),
  device: z.int().min(0),
  links: z.int().min(0),
  target: z.string().optional(),
  rdev: z.int().min(0).optional(),
  content: z.array(hex64).optional(),
  subtree: hex64.optional(),
});

/**
 * One entry of a directory. Times are integer nanoseconds since the epoch, as decimal strings
 * (JSON numbers lose precision past 2^53). `device` + `inode` with `links` > 1 identify
 * hardlinks. `content` lists a file's chunk ids in order; `subtree` is a directory's tree blob.
 */
export type TreeNode = z.infer<typeof nodeSchema>;

/** Field order of the canonical encoding. */
const FIELDS = Object.keys(nodeSchema.shape) as (keyof TreeNode)[];

/** Compares names by UTF-16 code units, the order the format specifies. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The canonical bytes of a tree. Throws on duplicate names or names with `/` or NUL. */
export function encodeTree(nodes: readonly TreeNode[]): Uint8Array {
  const sorted = [...nodes].sort((a, b) => compareNames(a.name, b.name));
  const out: Record<string, unknown>[] = [];
  let previous: string | undefined;
  for (const node of sorted) {
    if (node.name === previous)
      throw new Error(`Duplicate name in tree: ${JSON.stringify(node.name)}`);
    checkName(node.name, "encoding a tree");
    previous = node.name;
    const canonical: Record<string, unknown> = {};
    for (const field of FIELDS) if (node[field] !== undefined) canonical[field] = node[field];
    out.push(canonical);
  }
  return new TextEncoder().encode(JSON.stringify({ nodes: out }));
}

/**
 * Decodes a tree blob, refusing names that could escape a restore target (`.`, `..`, `/`, NUL):
 * a hostile repository must not steer writes.
 */
export function decodeTree(bytes: Uint8Array, what: string): TreeNode[] {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new RepoError("DAMAGED", `${what} is not valid JSON.`, { cause: error });
  }
  const nodes = checkTree(json, what);
  const seen = new Set<string>();
  for (const node of nodes) {
    checkName(node.name, what);
    if (seen.has(node.name))
      throw new RepoError("DAMAGED", `${what} lists ${JSON.stringify(node.name)} twice.`);
    seen.add(node.name);
  }
  return nodes;
}

function checkName(name: string, what: string): void {
  if (name === "." || name === ".." || name.includes("/") || name.includes("\0") || name === "") {
    throw new RepoError(
      "DAMAGED",
      `${what} holds an unsafe name ${JSON.stringify(name)}; refusing it.`,
    );
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const NS_TIME = /^-?\d{1,22}$/;
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
const isHex = (v: unknown): v is string => typeof v === "string" && HEX64.test(v);

/** Field checks equivalent to `nodeSchema`, written out: zod took a tenth of an unchanged backup. */
const CHECKS: Record<keyof TreeNode, { optional: boolean; ok: (v: unknown) => boolean }> = {
  name: { optional: false, ok: (v) => typeof v === "string" && v !== "" },
  type: { optional: false, ok: (v) => (NODE_TYPES as readonly unknown[]).includes(v) },
  mode: { optional: false, ok: (v) => isUint(v, 0o7777) },
  uid: { optional: false, ok: (v) => isUint(v) },
  gid: { optional: false, ok: (v) => isUint(v) },
  user: { optional: true, ok: (v) => typeof v === "string" },
  group: { optional: true, ok: (v) => typeof v === "string" },
  mtime: { optional: false, ok: (v) => typeof v === "string" && NS_TIME.test(v) },
  ctime: { optional: false, ok: (v) => typeof v === "string" && NS_TIME.test(v) },
  size: { optional: false, ok: (v) => isUint(v) },
  inode: { optional: false, ok: (v) => isUint(v) },
  device: { optional: false, ok: (v) => isUint(v) },
  links: { optional: false, ok: (v) => isUint(v) },
  target: { optional: true, ok: (v) => typeof v === "string" },
  rdev: { optional: true, ok: (v) => isUint(v) },
  content: { optional: true, ok: (v) => Array.isArray(v) && v.every(isHex) },
  subtree: { optional: true, ok: isHex },
};

/** Validates a decoded tree; unknown fields are dropped, as zod's object schemas do. */
function checkTree(json: unknown, what: string): TreeNode[] {
  const list = (json as { nodes?: unknown } | null)?.nodes;
  if (typeof json !== "object" || !Array.isArray(list)) {
    throw new RepoError("DAMAGED", `${what} is malformed: it has no node list.`);
  }
  return list.map((raw: unknown, index) => {
    if (typeof raw !== "object" || raw === null) {
      throw new RepoError("DAMAGED", `${what} is malformed at nodes.${index}: not an object.`);
    }
    const record = raw as Record<string, unknown>;
    const node: Record<string, unknown> = {};
    for (const field of FIELDS) {
      const value = record[field];
      const check = CHECKS[field];
      if (value === undefined && check.optional) continue;
      if (!check.ok(value)) {
        throw new RepoError("DAMAGED", `${what} is malformed at nodes.${index}.${field}.`);
      }
      node[field] = value;
    }
    return node as TreeNode;
  });
}
