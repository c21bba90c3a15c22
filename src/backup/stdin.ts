/** `ferry backup --stdin`: a stream (a database dump) stored as one file. */
import type { Readable } from "node:stream";
import type { TreeNode } from "../repo/tree.ts";
import { RepoError } from "../repo/errors.ts";
import { ReadFailure, type ChunkPool } from "./chunk-pool.ts";

/**
 * Chunks standard input through the worker pool and returns its tree node. Workers read files,
 * so the worker opens /dev/stdin itself; no other stream is accepted.
 */
export async function stdinNode(
  pool: ChunkPool,
  stream: Readable,
  filename: string,
  time: Date,
  onBytes: (bytes: number) => void,
): Promise<TreeNode> {
  if (stream !== process.stdin)
    throw new Error("Only the process's standard input can be backed up with --stdin.");
  let file;
  try {
    file = await pool.chunkFile("/dev/stdin", undefined, onBytes);
  } catch (error) {
    if (!(error instanceof ReadFailure)) throw error;
    throw new RepoError(
      "INVALID",
      `Cannot read standard input for --stdin: ${error.message}. Pipe the data in, e.g. \`mysqldump db | ferry backup --stdin --stdin-filename db.sql\`.`,
    );
  }
  const ns = (BigInt(time.getTime()) * 1_000_000n).toString();
  return {
    name: filename,
    type: "file",
    mode: 0o600,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    mtime: ns,
    ctime: ns,
    size: file.size,
    inode: 0,
    device: 0,
    links: 1,
    content: file.content,
  };
}
