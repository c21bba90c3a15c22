/**
 * Chunker benchmark (not a test): MB/s of the FastCDC chunker on one core over random data with
 * the repository's default parameters, next to a plain gear loop (the ceiling: hash only, no cut
 * tests) measured in the same run.
 *
 *   npx node bench/chunker.ts [--size 256MiB] [--push 1MiB] [--rounds 3]
 *
 * `cutPoint` runs over the whole data in one buffer; `Chunker` gets it in `--push`-sized buffers
 * and copies every chunk into its own ArrayBuffer, as a backup does.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Chunker, cutPoint, DEFAULT_CHUNKER_PARAMS, gearTable } from "../src/repo/chunker.ts";
import { formatSize, parseSize } from "../src/storage/units.ts";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "256MiB" },
    push: { type: "string", default: "1MiB" },
    rounds: { type: "string", default: "3" },
  },
});
/** `text` as a positive byte count; exits with a message otherwise. */
function sizeArg(name: string, text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) {
    console.error(`--${name}: not a size: ${text}`);
    process.exit(2);
  }
  return bytes;
}
const size = sizeArg("size", values.size);
const pushSize = sizeArg("push", values.push);
const rounds = Number(values.rounds);

const gear = gearTable(randomBytes(32));
const params = DEFAULT_CHUNKER_PARAMS;
const data = new Uint8Array(size);
for (let at = 0; at < size; at += 65536) {
  data.set(randomBytes(Math.min(65536, size - at)), at);
}

/**
 * Runs `fn` `rounds` times; returns the best MB/s by wall-clock time and by this process's CPU
 * time (the per-core figure, which holds up on a machine shared with other work), and the last
 * result.
 */
function measure(fn: () => number): { wall: number; cpu: number; result: number } {
  let wall = 0;
  let cpu = 0;
  let result = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    result = fn();
    const used = process.cpuUsage(c0);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    wall = Math.max(wall, size / 1e6 / seconds);
    cpu = Math.max(cpu, size / 1e6 / ((used.user + used.system) / 1e6));
  }
  return { wall, cpu, result };
}

/** One result line: the label, MB/s by CPU time and by wall time, and a note. */
function report(label: string, m: { wall: number; cpu: number }, note = ""): void {
  console.log(
    `${label.padEnd(26)} ${m.cpu.toFixed(0).padStart(6)} MB/s per core (wall ${m.wall.toFixed(0).padStart(5)} MB/s)  ${note}`,
  );
}

/** The ceiling: the gear hash alone over every byte, no cut tests, no copies. */
function plainGear(g: Int32Array, d: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < d.length; i++) {
    h = ((h << 1) + (g[d[i] as number] as number)) | 0;
  }
  return h;
}

function withCutPoint(): number {
  let count = 0;
  for (let at = 0; at < data.length; ) {
    at += cutPoint(gear, params, data, at, data.length, true);
    count++;
  }
  return count;
}

function withChunker(): number {
  const chunker = new Chunker(gear, params);
  let count = 0;
  for (let at = 0; at < data.length; at += pushSize) {
    count += chunker.push(data.subarray(at, Math.min(at + pushSize, data.length))).length;
  }
  return count + chunker.finish().length;
}

console.log(
  `${formatSize(size)} of random data, min/avg/max ${formatSize(params.min)}/${formatSize(params.avg)}/${formatSize(params.max)}, best of ${rounds}`,
);
const plain = measure(() => plainGear(new Int32Array(gear.buffer), data));
report("plain gear loop", plain);
const pure = measure(withCutPoint);
report(
  "cutPoint (one buffer)",
  pure,
  `${pure.result} chunks, mean ${formatSize(size / pure.result)}`,
);
const streaming = measure(withChunker);
report(`Chunker (${formatSize(pushSize)} pushes)`, streaming, `${streaming.result} chunks`);
