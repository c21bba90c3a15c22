/** Tree nodes from lstat results, and the test for "unchanged since the parent snapshot". */
import type { BigIntStats } from "node:fs";
import type { NodeType, TreeNode } from "../repo/tree.ts";
import type { OwnerNames } from "./owners.ts";

/** The node type of an lstat result. */
export function nodeType(st: BigIntStats): NodeType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isBlockDevice()) return "dev";
  if (st.isCharacterDevice()) return "chardev";
  if (st.isFIFO()) return "fifo";
  return "socket";
}

/** A node's metadata from lstat; content, subtree and target are added by the caller. */
export function nodeFromStat(name: string, st: BigIntStats, owners: OwnerNames): TreeNode {
  const type = nodeType(st);
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const node: TreeNode = {
    name,
    type,
    mode: Number(st.mode & 0o7777n),
    uid,
    gid,
    mtime: st.mtimeNs.toString(),
    ctime: st.ctimeNs.toString(),
    size: type === "file" ? Number(st.size) : 0,
    inode: Number(st.ino),
    device: Number(st.dev),
    links: Number(st.nlink),
  };
  const user = owners.user(uid);
  const group = owners.group(gid);
  if (user !== undefined) node.user = user;
  if (group !== undefined) node.group = group;
  if (type === "dev" || type === "chardev") node.rdev = Number(st.rdev);
  return node;
}

/**
 * True when a file may reuse its parent snapshot's chunk list without being read: same size,
 * mtime, ctime and inode (restic's rule; ctime catches a restored mtime).
 */
export function unchanged(
  node: TreeNode,
  previous: TreeNode | undefined,
): previous is TreeNode & { content: string[] } {
  return (
    previous !== undefined &&
    previous.type === "file" &&
    previous.content !== undefined &&
    previous.size === node.size &&
    previous.mtime === node.mtime &&
    previous.ctime === node.ctime &&
    previous.inode === node.inode
  );
}
