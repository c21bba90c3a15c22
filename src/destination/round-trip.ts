/**
 * The destination round trip behind `ferry destination test`: every operation a backup needs,
 * run once in a scratch directory inside the backup directory, timed, with the server's
 * self-description. Required steps decide the verdict; optional ones (mtime, free space) report
 * what the server offers.
 */
import { createHash, randomBytes } from "node:crypto";
import { isStorageError } from "../storage/errors.ts";
import type { Capabilities, FreeSpace, ServerInfo, Storage } from "../storage/storage.ts";

export interface StepResult {
  name: string;
  ok: boolean;
  /** Optional steps do not fail the round trip. */
  required: boolean;
  ms: number;
  detail?: string;
}

export interface RoundTripReport {
  ok: boolean;
  server: ServerInfo;
  capabilities: Capabilities;
  freeSpace?: FreeSpace;
  steps: StepResult[];
  totalMs: number;
}

/** Size of the test object: above 1 MiB so a transfer spans many packets and buffers. */
export const TEST_OBJECT_SIZE = 1_572_864 + 17;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function digest(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Runs the round trip; never throws for a failed step (it is reported), only for a bug. */
export async function runRoundTrip(
  storage: Storage,
  onStep: (step: StepResult) => void = () => undefined,
): Promise<RoundTripReport> {
  const started = performance.now();
  const steps: StepResult[] = [];
  const dir = `ferry-test-${randomBytes(4).toString("hex")}`;
  const first = `${dir}/object`;
  const second = `${dir}/object-2`;
  const data = randomBytes(TEST_OBJECT_SIZE);
  const replacement = randomBytes(4096);
  let failed = false;

  const step = async (
    name: string,
    required: boolean,
    run: () => Promise<string | undefined>,
  ): Promise<boolean> => {
    if (failed && required) return false;
    const t0 = performance.now();
    let result: StepResult;
    try {
      const detail = await run();
      result = {
        name,
        ok: true,
        required,
        ms: performance.now() - t0,
        ...(detail ? { detail } : {}),
      };
    } catch (error) {
      const code = isStorageError(error) ? `${error.code}: ` : "";
      const message = error instanceof Error ? error.message : String(error);
      result = {
        name,
        ok: false,
        required,
        ms: performance.now() - t0,
        detail: `${code}${message}`,
      };
      if (required) failed = true;
    }
    steps.push(result);
    onStep(result);
    return result.ok;
  };

  await step("create the backup directory", true, async () => {
    await storage.mkdir("");
    await storage.mkdir(dir);
    return undefined;
  });
  await step(`write a ${String(TEST_OBJECT_SIZE)}-byte object`, true, async () => {
    await storage.write(first, data);
    return undefined;
  });
  await step("stat it", true, async () => {
    const entry = await storage.stat(first);
    if (entry.size !== data.length) {
      throw new Error(`size is ${String(entry.size)}, expected ${String(data.length)}`);
    }
    return entry.mtime ? `mtime ${entry.mtime.toISOString()}` : "no mtime reported";
  });
  await step("list the directory", true, async () => {
    const names: string[] = [];
    for await (const entry of storage.list(dir)) names.push(entry.name);
    if (!names.includes("object"))
      throw new Error(`"object" missing from ${JSON.stringify(names)}`);
    return `${String(names.length)} entry`;
  });
  await step("read it back and compare", true, async () => {
    const back = await readAll(storage.read(first));
    if (digest(back) !== digest(data)) {
      throw new Error(`read ${String(back.length)} bytes that differ from what was written`);
    }
    return undefined;
  });
  await step("read a range", true, async () => {
    const back = await readAll(storage.read(first, { offset: 1_000_000, length: 70_000 }));
    if (!back.equals(data.subarray(1_000_000, 1_070_000))) throw new Error("the range differs");
    return undefined;
  });
  await step("overwrite by rename", true, async () => {
    await storage.write(second, replacement);
    await storage.rename(second, first);
    const back = await readAll(storage.read(first));
    if (!back.equals(replacement)) throw new Error("the renamed object has the wrong content");
    return storage.capabilities.atomicReplace ? "atomic" : "remove then rename";
  });
  await step("set a modification time", false, async () => {
    if (!storage.capabilities.setMtime) throw new Error("the server offers no way to set mtimes");
    const when = new Date("2020-02-29T12:34:56Z");
    await storage.setMtime(first, when);
    const seen = (await storage.stat(first)).mtime;
    if (seen === undefined) return "set (the server does not report mtimes back)";
    if (Math.abs(seen.getTime() - when.getTime()) > 2000) {
      throw new Error(`set ${when.toISOString()}, server reports ${seen.toISOString()}`);
    }
    return undefined;
  });
  await step("remove the test objects", true, async () => {
    await storage.remove(first);
    await storage.removeDir(dir);
    return undefined;
  });

  let freeSpace: FreeSpace | undefined;
  await step("query free space", false, async () => {
    freeSpace = await storage.freeSpace();
    if (freeSpace === undefined) throw new Error("the server offers no way to ask");
    return `via ${freeSpace.source}`;
  });
  if (steps.some((s) => s.required && !s.ok)) {
    for (const key of [first, second]) await storage.remove(key).catch(() => undefined);
    await storage.removeDir(dir).catch(() => undefined);
  }

  return {
    ok: steps.every((s) => s.ok || !s.required),
    server: await storage.info(),
    capabilities: storage.capabilities,
    ...(freeSpace ? { freeSpace } : {}),
    steps,
    totalMs: performance.now() - started,
  };
}
