/**
 * File-name encodings for servers that do not speak UTF-8 (`encoding` setting).
 *
 * basic-ftp's FTPContext decodes the control connection with a Node Buffer encoding, which
 * knows UTF-8 and Latin-1 but no code pages. So the control connection always runs as `latin1`
 * — one char per byte, a lossless carrier that never splits a multi-byte character across
 * chunks and can be turned back into the exact bytes (CCC needs that) — and this module
 * converts between those byte-strings and real text: decoding with TextDecoder, encoding with a table made by
 * inverting that same decoder (single-byte pages: all 256 bytes; double-byte pages such as
 * GBK, Big5, EUC-KR, Shift_JIS: every lead/trail pair). Names the table cannot express are
 * refused with UNSUPPORTED instead of being sent wrong.
 */
import { TextDecoder, TextEncoder } from "node:util";
import { StorageError } from "../errors.ts";

/** Converts names between text and what goes on the wire. */
export interface NameCodec {
  /** WHATWG name of the encoding, e.g. `utf-8`, `windows-1251`, `gbk`. */
  readonly name: string;
  /** The Node encoding FTPContext must use for the control socket (always byte-transparent). */
  readonly transport: "latin1";
  /** Text → control-connection string (a byte-string when transport is latin1). */
  toWire(text: string): string;
  /** Control-connection string → text. */
  fromWire(wire: string): string;
  /** Raw bytes (a listing) → text. */
  decode(bytes: Uint8Array): string;
}

const tables = new Map<string, Map<string, number[]>>();

/** Encodings whose decoders are stateful or not byte-oriented: no table can invert them. */
const UNINVERTIBLE = new Set(["iso-2022-jp", "utf-16le", "utf-16be", "replacement"]);

function singleByteTable(decoder: TextDecoder, table: Map<string, number[]>): boolean {
  let singleByte = true;
  for (let byte = 0; byte < 256; byte++) {
    const char = decoder.decode(Uint8Array.of(byte));
    if (char.length === 1 && char !== "\uFFFD") {
      if (!table.has(char)) table.set(char, [byte]);
    } else if (byte >= 0x80) {
      singleByte = false;
    }
  }
  return singleByte;
}

function doubleByteTable(decoder: TextDecoder, table: Map<string, number[]>): void {
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      const text = decoder.decode(Uint8Array.of(lead, trail));
      // One code point (possibly a surrogate pair) that is not the replacement character.
      if (text === "\uFFFD" || text.includes("\uFFFD")) continue;
      if (String.fromCodePoint(text.codePointAt(0) ?? 0) !== text) continue;
      if (!table.has(text)) table.set(text, [lead, trail]);
    }
  }
}

function tableFor(name: string): Map<string, number[]> {
  let table = tables.get(name);
  if (table === undefined) {
    table = new Map();
    const decoder = new TextDecoder(name);
    if (!singleByteTable(decoder, table)) doubleByteTable(decoder, table);
    tables.set(name, table);
  }
  return table;
}

/** Encodes text with the inverted-decoder table of `name`; throws UNSUPPORTED for unmappable text. */
export function encodeName(name: string, text: string): Uint8Array {
  if (name === "utf-8") return new TextEncoder().encode(text);
  if (UNINVERTIBLE.has(name)) throw unsupported(name, text);
  const table = tableFor(name);
  const bytes: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const mapped = code < 0x80 ? [code] : table.get(char);
    if (mapped === undefined) throw unsupported(name, text, char);
    bytes.push(...mapped);
  }
  return Uint8Array.from(bytes);
}

function unsupported(name: string, text: string, char?: string): StorageError {
  const which = char === undefined ? "" : ` (the character ${JSON.stringify(char)})`;
  return new StorageError(
    "UNSUPPORTED",
    `The name ${JSON.stringify(text)} cannot be written in the server's encoding ${name}${which}. Set encoding=utf8 if the server supports UTF-8, or use names the code page can express.`,
    { key: text },
  );
}

/** A codec for the `encoding` setting (any label TextDecoder knows). */
export function createNameCodec(label: string): NameCodec {
  const decoder = new TextDecoder(label);
  const name = decoder.encoding;
  return {
    name,
    transport: "latin1",
    toWire: (text) => Buffer.from(encodeName(name, text)).toString("latin1"),
    fromWire: (wire) => decoder.decode(Buffer.from(wire, "latin1")),
    decode: (bytes) => decoder.decode(bytes),
  };
}
