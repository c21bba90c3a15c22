/**
 * A minimal tar writer: POSIX ustar headers, with a pax extended header in front when a field
 * does not fit (long or non-ASCII names and link targets, sizes of 8 GiB and more, large ids,
 * sub-second or pre-1970 mtimes). Readers without pax support still get the ustar fields.
 */

/** Entry types the writer emits. */
export type TarType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "dir" | "fifo";

const TYPEFLAG: Record<TarType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  blockdev: "4",
  dir: "5",
  fifo: "6",
};

/** One entry's header fields. `size` is the bytes that follow (0 for all but files). */
export interface TarEntry {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  uname?: string | undefined;
  gname?: string | undefined;
  size: number;
  /** Nanoseconds since the epoch. */
  mtimeNs: bigint;
  linkname?: string | undefined;
  devmajor?: number;
  devminor?: number;
}

/** Tar's block size: headers and contents are padded to it. */
export const BLOCK = 512;

/** The header block(s) of one entry: a pax header when needed, then the ustar header. */
export function tarHeader(entry: TarEntry): Buffer {
  const pax: [string, string][] = [];
  const block = Buffer.alloc(BLOCK);
  const split = splitName(entry.name);
  if (split === undefined) pax.push(["path", entry.name]);
  else {
    ascii(block, 0, 100, split.name);
    ascii(block, 345, 155, split.prefix);
  }
  if (!octal(block, 100, 8, entry.mode & 0o7777)) throw new Error(`bad mode ${entry.mode}`);
  if (!numeric(block, 108, 8, entry.uid)) pax.push(["uid", String(entry.uid)]);
  if (!numeric(block, 116, 8, entry.gid)) pax.push(["gid", String(entry.gid)]);
  if (!numeric(block, 124, 12, entry.size)) pax.push(["size", String(entry.size)]);
  const seconds = entry.mtimeNs / 1_000_000_000n;
  const exact = entry.mtimeNs % 1_000_000_000n === 0n;
  if (!numeric(block, 136, 12, Number(seconds)) || !exact) {
    pax.push(["mtime", paxTime(entry.mtimeNs)]);
  }
  block.write(TYPEFLAG[entry.type], 156, "ascii");
  const linkname = entry.linkname ?? "";
  if (fitsAscii(linkname, 100)) ascii(block, 157, 100, linkname);
  else pax.push(["linkpath", linkname]);
  block.write("ustar\0" + "00", 257, "ascii");
  for (const [field, at, value] of [
    ["uname", 265, entry.uname],
    ["gname", 297, entry.gname],
  ] as const) {
    if (value === undefined) continue;
    if (fitsAscii(value, 31)) ascii(block, at, 32, value);
    else pax.push([field, value]);
  }
  octal(block, 329, 8, entry.devmajor ?? 0);
  octal(block, 337, 8, entry.devminor ?? 0);
  checksum(block);
  if (pax.length === 0) return block;
  const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(""), "utf8");
  const base = entry.name.replace(/\/+$/, "");
  const paxName = `PaxHeaders/${base.slice(base.lastIndexOf("/") + 1)}`.replace(
    /[^\x20-\x7e]/g,
    "_",
  );
  const head = Buffer.alloc(BLOCK);
  ascii(head, 0, 100, paxName.slice(0, 99));
  octal(head, 100, 8, 0o644);
  octal(head, 108, 8, 0);
  octal(head, 116, 8, 0);
  octal(head, 124, 12, body.length);
  octal(head, 136, 12, 0);
  head.write("x", 156, "ascii");
  head.write("ustar\0" + "00", 257, "ascii");
  checksum(head);
  return Buffer.concat([head, body, padding(body.length), block]);
}

/** Zeros up to the next block boundary after `size` bytes of contents. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end of an archive: two zero blocks. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/** Splits a name into ustar's name and prefix fields; undefined when only pax can hold it. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (!fitsAscii(name, 255)) return undefined;
  if (name.length <= 100) return { name, prefix: "" };
  for (let at = name.indexOf("/"); at !== -1; at = name.indexOf("/", at + 1)) {
    const rest = name.slice(at + 1);
    if (at <= 155 && rest.length <= 100 && rest !== "") {
      return { name: rest, prefix: name.slice(0, at) };
    }
  }
  return undefined;
}

function fitsAscii(text: string, max: number): boolean {
  if (text.length > max) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0 || code > 0x7f) return false;
  }
  return true;
}

function ascii(block: Buffer, at: number, width: number, text: string): void {
  block.write(text, at, width, "ascii");
}

/** Writes a zero-padded octal field with its NUL; false when the value does not fit. */
function octal(block: Buffer, at: number, width: number, value: number): boolean {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 8 ** (width - 1)) return false;
  block.write(`${value.toString(8).padStart(width - 1, "0")}\0`, at, width, "ascii");
  return true;
}

/**
 * Writes a numeric field in octal, or in the base-256 form GNU tar, bsdtar and star read when
 * octal is too short; a negative value is written as 0. False when only pax holds the value.
 */
function numeric(block: Buffer, at: number, width: number, value: number): boolean {
  if (octal(block, at, width, value)) return true;
  if (Number.isSafeInteger(value) && value > 0) {
    let rest = BigInt(value);
    for (let i = at + width - 1; i > at; i--) {
      block[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
    block[at] = 0x80;
  } else {
    octal(block, at, width, 0);
  }
  return false;
}

function checksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
}

/** `"<length> key=value\n"`, where the length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = Buffer.byteLength(body);
  let length = bytes + String(bytes).length;
  while (String(length).length + bytes !== length) length = String(length).length + bytes;
  return `${length}${body}`;
}

/** Decimal seconds with the fraction pax allows, e.g. `1700000000.123456789`, `-1.5`. */
function paxTime(ns: bigint): string {
  const sign = ns < 0n ? "-" : "";
  const abs = ns < 0n ? -ns : ns;
  const fraction = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${sign}${abs / 1_000_000_000n}${fraction === "" ? "" : `.${fraction}`}`;
}
