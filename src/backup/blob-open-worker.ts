/**
 * Worker thread of the restore: authenticates, decrypts, decompresses and checks the id of data
 * blobs, the CPU work that would otherwise share the main thread with the network and the
 * filesystem calls. Messages are described in blob-openers.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { unframe } from "../repo/codec.ts";
import { blobId, open } from "../repo/crypto.ts";
import { isRepoError, RepoError } from "../repo/errors.ts";
import { blobAd } from "../repo/pack.ts";
import type { OpenReply, OpenRequest, OpenerInit } from "./blob-openers.ts";

const init = workerData as OpenerInit;
const port = parentPort;
if (port === null) throw new Error("blob-open-worker.ts must run in a worker thread");

/** Repository.openBlob for data blobs, with the same checks and messages. */
function openData(id: string, sealed: Uint8Array, rawLength: number): Uint8Array {
  const idBytes = Buffer.from(id, "hex");
  const what = `Data blob ${id.slice(0, 12)}`;
  const plain = unframe(
    open(init.encryptionKey, sealed, blobAd("data", idBytes), what),
    what,
    rawLength,
  );
  if (!blobId(init.macKey, plain).equals(idBytes)) {
    throw new RepoError("DAMAGED", `${what} does not hash to its id.`);
  }
  return plain;
}

port.on("message", ({ seq, id, sealed, rawLength }: OpenRequest) => {
  let reply: OpenReply;
  let transfer: ArrayBuffer[] = [];
  try {
    let plain = openData(id, sealed, rawLength);
    // Only a buffer that owns its whole ArrayBuffer may be moved (small ones share a pool).
    if (plain.byteOffset !== 0 || plain.byteLength !== plain.buffer.byteLength) {
      plain = new Uint8Array(plain);
    }
    reply = { seq, plain };
    transfer = [plain.buffer as ArrayBuffer];
  } catch (error) {
    reply = {
      seq,
      code: isRepoError(error) ? error.code : undefined,
      message: error instanceof Error ? error.message : String(error),
    };
  }
  port.postMessage(reply, transfer);
});
