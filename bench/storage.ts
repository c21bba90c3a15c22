/**
 * Storage benchmark (not a test): upload and download throughput of one large object and
 * objects/s for many small ones, per adapter (local, FTP, FTPS, SFTP) against the real servers of
 * the test harness, with 1 and 4 connections, next to the loopback limit measured in the same
 * run. Prints a table with ratios against loopback and against the targets, and writes a JSON
 * result file under bench/results/.
 *
 *   npx node bench/storage.ts [--only local,ftp,ftps,sftp] [--size 512MiB] [--count 2000]
 *                             [--object-size 64KiB] [--connections 1,4]
 *
 * With 4 connections a large download reads 4 ranges of the object in parallel; a large upload
 * sends 4 objects of size/4 in parallel (one object always travels over one connection).
 * Downloads are checked byte for byte against the source, which is generated once and never
 * copied. The FTP servers need root (the harness creates system users); without it, or without
 * the binaries (`bash test/servers/install.sh`), those adapters are skipped with the reason.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { openStorage } from "../src/storage/open.ts";
import { parseSettings, type StorageSettings } from "../src/storage/settings.ts";
import type { Storage } from "../src/storage/storage.ts";
import { formatSize, parseSize } from "../src/storage/units.ts";
import {
  startServer,
  unavailableReason,
  type RunningServer,
  type ServerKind,
} from "../test/servers/harness.ts";

type AdapterName = "local" | "ftp" | "ftps" | "sftp";
const ADAPTERS: readonly AdapterName[] = ["local", "ftp", "ftps", "sftp"];
const SERVER_OF: Record<AdapterName, ServerKind | undefined> = {
  local: undefined,
  ftp: "vsftpd",
  ftps: "vsftpd",
  sftp: "openssh",
};
/** Targets at 4 connections: large-object MB/s, and small objects/s where one is set. */
const TARGETS: Record<AdapterName, { large?: number; small?: number }> = {
  local: {},
  ftp: { large: 400, small: 300 },
  ftps: { large: 250 },
  sftp: { large: 300 },
};
const CHUNK = 1 << 20;

interface Row {
  adapter: AdapterName;
  server: string;
  connections: number;
  uploadMBps?: number;
  downloadMBps?: number;
  smallUploadPerS?: number;
  smallDownloadPerS?: number;
  error?: string;
}

interface Loopback {
  connections: number;
  sendMBps: number;
  receiveMBps: number;
}

function options() {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      size: { type: "string", default: "512MiB" },
      count: { type: "string", default: "2000" },
      "object-size": { type: "string", default: "64KiB" },
      connections: { type: "string", default: "1,4" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: npx node bench/storage.ts [--only local,ftp,ftps,sftp] [--size 512MiB] [--count 2000] [--object-size 64KiB] [--connections 1,4]",
    );
    process.exit(0);
  }
  const only = (values.only ?? ADAPTERS.join(",")).split(",").map((name) => name.trim());
  for (const name of only) {
    if (!ADAPTERS.includes(name as AdapterName)) {
      throw new Error(`--only: unknown adapter "${name}"; expected some of ${ADAPTERS.join(", ")}`);
    }
  }
  const size = parseSize(values.size);
  const objectSize = parseSize(values["object-size"]);
  const count = Number(values.count);
  const connections = values.connections.split(",").map(Number);
  if (size === undefined || size < 4) throw new Error(`--size: "${values.size}" is not a size`);
  if (objectSize === undefined || objectSize < 1) {
    throw new Error(`--object-size: "${values["object-size"]}" is not a size`);
  }
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count: expected a whole number`);
  if (connections.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error(`--connections: expected numbers such as 1,4`);
  }
  return { only: only as AdapterName[], size, count, objectSize, connections };
}

/** A body streaming `data` in 1 MiB views: no copy is made. */
function bodyOf(data: Buffer): { open: () => Readable; size: number } {
  function* views() {
    for (let offset = 0; offset < data.length; offset += CHUNK) {
      yield data.subarray(offset, offset + CHUNK);
    }
  }
  return { open: () => Readable.from(views(), { objectMode: false }), size: data.length };
}

/** Reads a stream and checks it against `expected`; resolves with the byte count. */
async function readChecked(stream: Readable, expected: Buffer, what: string): Promise<number> {
  let position = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (!chunk.equals(expected.subarray(position, position + chunk.length))) {
      throw new Error(
        `${what}: downloaded bytes differ from the source at offset ${String(position)}`,
      );
    }
    position += chunk.length;
  }
  if (position !== expected.length) {
    throw new Error(`${what}: downloaded ${String(position)} bytes of ${String(expected.length)}`);
  }
  return position;
}

async function seconds(task: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await task();
  return (performance.now() - start) / 1000;
}

const mbps = (bytes: number, s: number) => bytes / 1e6 / s;

/** Runs `tasks` with at most `parallel` at once. */
async function inParallel(count: number, parallel: number, task: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

// ---------------------------------------------------------------- loopback

/** A child process (so that the other end has its own CPU, as a server has) on 127.0.0.1. */
const PEER = `
const net = require("node:net");
const block = require("node:crypto").randomBytes(1 << 20);
const server = net.createServer((socket) => {
  socket.once("data", (first) => {
    const line = first.toString("latin1");
    if (line.startsWith("SINK")) {
      socket.on("data", () => {});
      socket.on("end", () => socket.end());
      return;
    }
    let left = Number(line.slice(7));
    const pump = () => {
      while (left > 0) {
        const piece = left >= block.length ? block : block.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) return void socket.once("drain", pump);
      }
      socket.end();
    };
    pump();
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

async function loopback(data: Buffer, connections: number[]): Promise<Loopback[]> {
  const child = spawn(process.execPath, ["-e", PEER], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once("data", (text: Buffer) => {
        resolve(Number(text.toString().trim()));
      });
      child.once("error", reject);
    });
    const send = (part: Buffer) =>
      new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port }, () => {
          socket.write("SINK\n");
          void (async () => {
            for (let offset = 0; offset < part.length; offset += CHUNK) {
              if (!socket.write(part.subarray(offset, offset + CHUNK))) {
                await new Promise((drained) => socket.once("drain", drained));
              }
            }
            socket.end();
          })();
        });
        socket.on("data", () => undefined);
        socket.on("error", reject);
        socket.on("close", () => {
          resolve();
        });
      });
    const receive = (bytes: number) =>
      new Promise<void>((resolve, reject) => {
        let got = 0;
        const socket = net.connect({ host: "127.0.0.1", port }, () => {
          socket.write(`SOURCE ${String(bytes)}`);
        });
        socket.on("data", (chunk: Buffer) => (got += chunk.length));
        socket.on("error", reject);
        socket.on("end", () => {
          if (got === bytes) resolve();
          else reject(new Error(`loopback: received ${String(got)} of ${String(bytes)} bytes`));
        });
      });
    // The limit is the best of three runs: it is what the machine can do, not one sample of it.
    const best = async (task: () => Promise<unknown>) => {
      let fastest = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) fastest = Math.min(fastest, await seconds(task));
      return fastest;
    };
    const results: Loopback[] = [];
    for (const c of connections) {
      const parts = split(data, c);
      const up = await best(() => Promise.all(parts.map(send)));
      const down = await best(() => Promise.all(parts.map((p) => receive(p.length))));
      results.push({
        connections: c,
        sendMBps: mbps(data.length, up),
        receiveMBps: mbps(data.length, down),
      });
    }
    return results;
  } finally {
    child.kill();
  }
}

/** `data` cut into `n` nearly equal views. */
function split(data: Buffer, n: number): Buffer[] {
  const size = Math.ceil(data.length / n);
  return Array.from({ length: n }, (_, i) => data.subarray(i * size, (i + 1) * size)).filter(
    (part) => part.length > 0,
  );
}

// ---------------------------------------------------------------- adapters

function settingsFor(
  adapter: AdapterName,
  server: RunningServer | undefined,
  localDir: string,
  connections: number,
): StorageSettings {
  const common = { maxConnections: connections, path: `bench-${adapter}-${String(connections)}` };
  if (adapter === "local" || !server) {
    return parseSettings({ type: "local", ...common, path: join(localDir, common.path) });
  }
  const user = server.users.password;
  const login = { host: server.host, port: server.port, user: user.name, password: user.password };
  if (adapter === "sftp") {
    return parseSettings({
      type: "sftp",
      ...common,
      ...login,
      auth: "password",
      hostKeyTrust: "fingerprint",
      hostKey: server.hostKeyFingerprint,
    });
  }
  return parseSettings({
    type: "ftp",
    ...common,
    ...login,
    ...(adapter === "ftps" ? { tls: "explicit", tlsTrust: "ca", caFile: server.caFile } : {}),
  });
}

async function measure(
  storage: Storage,
  row: Row,
  data: Buffer,
  small: { count: number; size: number },
): Promise<void> {
  const c = row.connections;
  const what = `${row.adapter} ${String(c)}`;
  // Large object: upload (one object, or c objects of size/c), then download (c ranges).
  const parts = split(data, c);
  const up = await seconds(() =>
    Promise.all(
      parts.map((part, i) => storage.write(c === 1 ? "large" : `part-${String(i)}`, bodyOf(part))),
    ),
  );
  row.uploadMBps = mbps(data.length, up);
  if (c !== 1) {
    await Promise.all(parts.map((_, i) => storage.remove(`part-${String(i)}`)));
    await storage.write("large", bodyOf(data)); // the object the ranged download reads
  }
  if (c !== 1 && !storage.capabilities.rangedRead) {
    throw new Error(`${what}: no ranged reads, cannot download in ${String(c)} ranges`);
  }
  let offset = 0;
  const ranges = parts.map((part) => {
    const range = { offset, length: part.length, part };
    offset += part.length;
    return range;
  });
  const down = await seconds(() =>
    Promise.all(
      ranges.map(({ offset: from, length, part }) =>
        readChecked(
          storage.read("large", c === 1 ? {} : { offset: from, length }),
          part,
          `${what} large`,
        ),
      ),
    ),
  );
  row.downloadMBps = mbps(data.length, down);
  await storage.remove("large");

  // Small objects: views of the source, so each has distinct bytes when the source is big enough.
  const view = (i: number) => {
    const start = (i * small.size) % Math.max(1, data.length - small.size);
    return data.subarray(start, start + small.size);
  };
  const key = (i: number) => `small/${String(i).padStart(6, "0")}`;
  await storage.mkdir("small");
  const smallUp = await seconds(() =>
    inParallel(small.count, c, (i) => storage.write(key(i), view(i))),
  );
  row.smallUploadPerS = small.count / smallUp;
  const smallDown = await seconds(() =>
    inParallel(small.count, c, (i) => readChecked(storage.read(key(i)), view(i), `${what} small`)),
  );
  row.smallDownloadPerS = small.count / smallDown;
}

// ---------------------------------------------------------------- report

const fixed = (value: number | undefined, digits = 0) =>
  value === undefined ? "-" : value.toFixed(digits);
const percent = (value: number | undefined, of: number | undefined) =>
  value === undefined || of === undefined || of === 0 ? "-" : `${((value / of) * 100).toFixed(0)}%`;

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  "),
    )
    .join("\n");
}

function report(rows: Row[], loop: Loopback[]): string[] {
  const lines: string[] = [];
  const header = [
    "adapter",
    "server",
    "conns",
    "up MB/s",
    "down MB/s",
    "up/loop",
    "down/loop",
    "small up/s",
    "small down/s",
  ];
  const body = rows.map((row) => {
    // The local adapter uses no TCP: a ratio against loopback would mean nothing.
    const l =
      row.adapter === "local" ? undefined : loop.find((x) => x.connections === row.connections);
    return [
      row.adapter,
      row.server,
      String(row.connections),
      fixed(row.uploadMBps),
      fixed(row.downloadMBps),
      percent(row.uploadMBps, l?.sendMBps),
      percent(row.downloadMBps, l?.receiveMBps),
      fixed(row.smallUploadPerS),
      fixed(row.smallDownloadPerS),
    ];
  });
  lines.push(table([header, ...body]));
  for (const row of rows)
    if (row.error) lines.push(`  ${row.adapter} x${String(row.connections)}: ${row.error}`);
  lines.push(
    "MB = 10^6 bytes. With n > 1 connections, large upload = n objects of size/n in parallel (one object travels over one connection); large download = n ranges of one object in parallel. up/loop and down/loop: against raw TCP on loopback with as many connections.",
  );
  lines.push("");
  lines.push(
    "Targets at 4 connections (large object: upload = 4 objects of size/4 in parallel, download = 4 ranges of one object):",
  );
  for (const row of rows.filter((r) => r.connections === 4)) {
    const target = TARGETS[row.adapter];
    if (target.large !== undefined) {
      for (const [what, value] of [
        ["upload", row.uploadMBps],
        ["download", row.downloadMBps],
      ] as const) {
        const verdict =
          value === undefined ? "not measured" : value >= target.large ? "meets" : "BELOW";
        lines.push(
          `  ${row.adapter} large ${what}: ${fixed(value)} MB/s vs ${String(target.large)} MB/s target = ${percent(value, target.large)} (${verdict})`,
        );
      }
    }
    if (target.small !== undefined) {
      const value = row.smallUploadPerS;
      const verdict =
        value === undefined ? "not measured" : value >= target.small ? "meets" : "BELOW";
      lines.push(
        `  ${row.adapter} small uploads: ${fixed(value)} objects/s vs ${String(target.small)}/s target = ${percent(value, target.small)} (${verdict})`,
      );
    }
  }
  return lines;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = options();
  console.log(
    `ferry storage benchmark: ${formatSize(opts.size)} large object, ${String(opts.count)} × ${formatSize(opts.objectSize)} small objects, connections ${opts.connections.join(",")}; ${os.cpus()[0]?.model ?? "?"} × ${String(os.availableParallelism())}, Node ${process.version}`,
  );
  const data = randomBytes(opts.size);
  const loop = await loopback(data, opts.connections);
  for (const l of loop) {
    console.log(
      `loopback (raw TCP to a child process, best of 3) ×${String(l.connections)}: send ${fixed(l.sendMBps)} MB/s, receive ${fixed(l.receiveMBps)} MB/s`,
    );
  }

  const localDir = await mkdtemp(join(os.tmpdir(), "ferry-bench-"));
  const servers = new Map<ServerKind, RunningServer | string>();
  const rows: Row[] = [];
  const skipped: { adapter: AdapterName; reason: string }[] = [];
  try {
    for (const adapter of opts.only) {
      const kind = SERVER_OF[adapter];
      let server: RunningServer | undefined;
      if (kind !== undefined) {
        if (!servers.has(kind)) {
          const reason = await unavailableReason(kind);
          servers.set(kind, reason ?? (await startServer(kind).catch((e: unknown) => String(e))));
        }
        const started = servers.get(kind);
        if (typeof started === "string" || started === undefined) {
          const reason = started ?? "not started";
          skipped.push({ adapter, reason });
          console.log(`${adapter}: skipped (${reason})`);
          continue;
        }
        server = started;
      }
      for (const connections of opts.connections) {
        const row: Row = { adapter, server: kind ?? "local disk", connections };
        rows.push(row);
        let storage: Storage | undefined;
        try {
          storage = await openStorage(settingsFor(adapter, server, localDir, connections));
          await measure(storage, row, data, { count: opts.count, size: opts.objectSize });
        } catch (error) {
          row.error = error instanceof Error ? error.message : String(error);
        } finally {
          await storage?.close().catch(() => undefined);
        }
        console.log(
          `${adapter} ×${String(connections)}: up ${fixed(row.uploadMBps)} MB/s, down ${fixed(row.downloadMBps)} MB/s, small up ${fixed(row.smallUploadPerS)}/s, small down ${fixed(row.smallDownloadPerS)}/s${row.error ? `; failed: ${row.error}` : ""}`,
        );
      }
    }
  } finally {
    for (const server of servers.values()) if (typeof server !== "string") await server.stop();
    await rm(localDir, { recursive: true, force: true });
  }

  console.log("");
  for (const line of report(rows, loop)) console.log(line);
  const results = join(import.meta.dirname, "results");
  await mkdir(results, { recursive: true });
  const file = join(results, `storage-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpu: os.cpus()[0]?.model,
        cpus: os.availableParallelism(),
        kernel: os.release(),
        options: opts,
        notes:
          "MB = 10^6 bytes. Large upload with n>1 connections = n objects of size/n in parallel; large download with n>1 = n ranges of one object. Loopback = raw TCP to a child process on 127.0.0.1, best of 3 runs; adapters are measured once.",
        loopback: loop,
        results: rows,
        targets: TARGETS,
        skipped,
      },
      null,
      2,
    ),
  );
  console.log(`\nresults written to ${file}`);
  if (rows.some((row) => row.error !== undefined)) process.exitCode = 1;
}

await main();
