import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isStorageError } from "../errors.ts";
import type { Entry } from "../storage.ts";
import { compileDateFormat, parseListing, parseMlsdLine, parseMlsxTime } from "./list-parsers.ts";

const now = new Date("2024-03-01T12:00:00Z");

interface Case {
  server: string;
  line: string;
  expect: Omit<Entry, "raw"> | undefined;
  dateFormat?: string;
}

const utc = (text: string) => new Date(`${text}Z`);

const LIST_CASES: Case[] = [
  {
    server: "vsftpd directory",
    line: "drwxr-xr-x    2 1000     1000         4096 Feb 05 09:12 backups",
    expect: { name: "backups", type: "directory", size: 0, mtime: utc("2024-02-05T09:12:00") },
  },
  {
    server: "vsftpd file with spaces",
    line: "-rw-r--r--    1 1000     1000      2097152 Nov 21 10:00 data file  two.bin",
    expect: {
      name: "data file  two.bin",
      type: "file",
      size: 2097152,
      mtime: utc("2023-11-21T10:00:00"),
    },
  },
  {
    server: "vsftpd symlink",
    line: "lrwxrwxrwx    1 1000     1000            7 Jan 20 08:00 link name -> target dir",
    expect: { name: "link name", type: "symlink", size: 7, mtime: utc("2024-01-20T08:00:00") },
  },
  {
    server: "vsftpd dot-file, year form (day precision: no mtime)",
    line: "-rw-------    1 1000     1000          220 Jan 05  2023 .bash_logout",
    expect: { name: ".bash_logout", type: "file", size: 220 },
  },
  {
    server: "ProFTPD",
    line: "-rw-r--r--   1 ftpuser  ftpgroup      1234 Mar  1 12:34 readme.txt",
    expect: { name: "readme.txt", type: "file", size: 1234, mtime: utc("2024-03-01T12:34:00") },
  },
  {
    server: "ProFTPD year form",
    line: "drwxr-xr-x   3 ftpuser  ftpgroup      4096 Dec 31  2022 old stuff",
    expect: { name: "old stuff", type: "directory", size: 0 },
  },
  {
    server: "Pure-FTPd",
    line: "-rw-r--r--    1 1000       1000             1234 Feb 29 23:59 leap.txt",
    expect: { name: "leap.txt", type: "file", size: 1234, mtime: utc("2024-02-29T23:59:00") },
  },
  {
    server: "Pure-FTPd date in the future of 'now' belongs to last year",
    line: "-rw-r--r--    1 1000       1000               10 Dec 24 18:00 xmas",
    expect: { name: "xmas", type: "file", size: 10, mtime: utc("2023-12-24T18:00:00") },
  },
  {
    server: "Synology",
    line: "drwxrwxrwx   1 admin    users           0 Feb 22 2019 @eaDir",
    expect: { name: "@eaDir", type: "directory", size: 0 },
  },
  {
    server: "Synology file",
    line: "-rwxrwxrwx   1 admin    users     1048576 Nov 18 14:03 photo 2024.jpg",
    expect: {
      name: "photo 2024.jpg",
      type: "file",
      size: 1048576,
      mtime: utc("2023-11-18T14:03:00"),
    },
  },
  {
    server: "long-iso (ls --time-style=long-iso)",
    line: "-rw-r--r-- 1 user group 1234 2024-01-31 12:34 iso.txt",
    expect: { name: "iso.txt", type: "file", size: 1234, mtime: utc("2024-01-31T12:34:00") },
  },
  {
    server: "no group column",
    line: "-rw-r--r--   1 owner      1234 Jan 01 12:34 nogroup.txt",
    expect: { name: "nogroup.txt", type: "file", size: 1234, mtime: utc("2024-01-01T12:34:00") },
  },
  {
    server: "ACL marker and a name that looks like a date",
    line: "-rw-r--r--+  1 u g 5 Jan 02 03:04 Jan 05 06:07 x",
    expect: { name: "Jan 05 06:07 x", type: "file", size: 5, mtime: utc("2024-01-02T03:04:00") },
  },
  {
    server: "German month name",
    line: "-rw-r--r-- 1 u g 1234 Dez 03 12:34 dezember.txt",
    expect: { name: "dezember.txt", type: "file", size: 1234, mtime: utc("2023-12-03T12:34:00") },
  },
  {
    server: "listDateFormat override (German numeric dates)",
    line: "-rw-r--r-- 1 u g 1234 31.01.2024 12:34 de.txt",
    dateFormat: "DD.MM.YYYY HH:mm",
    expect: { name: "de.txt", type: "file", size: 1234, mtime: utc("2024-01-31T12:34:00") },
  },
  {
    server: "IIS directory",
    line: "01-31-24  10:30AM       <DIR>          My Documents",
    expect: { name: "My Documents", type: "directory", size: 0, mtime: utc("2024-01-31T10:30:00") },
  },
  {
    server: "IIS file, PM",
    line: "12-25-23  11:59PM                 1234 report final.pdf",
    expect: {
      name: "report final.pdf",
      type: "file",
      size: 1234,
      mtime: utc("2023-12-25T23:59:00"),
    },
  },
  {
    server: "IIS four-digit year, 12 AM, grouped size",
    line: "02-01-2024  12:04AM             5,678 big.iso",
    expect: { name: "big.iso", type: "file", size: 5678, mtime: utc("2024-02-01T00:04:00") },
  },
  {
    server: "dot entries are dropped",
    line: "drwxr-xr-x    2 0        0            4096 Jan 01 00:00 ..",
    expect: undefined,
  },
];

void describe("LIST parsing", () => {
  for (const { server, line, expect, dateFormat } of LIST_CASES) {
    void test(server, () => {
      const entries = parseListing(line, "list", { now, dateFormat });
      if (expect === undefined) {
        assert.deepEqual(entries, []);
        return;
      }
      assert.deepEqual(entries, [{ ...expect, raw: line }]);
    });
  }

  void test("a whole vsftpd listing with total line and CRLF", () => {
    const text =
      "total 8\r\n-rw-r--r--    1 1000     1000            3 Jan 01 00:00 a\r\ndrwxr-xr-x    2 1000     1000         4096 Jan 01 00:00 b\r\n";
    assert.deepEqual(
      parseListing(text, "list", { now }).map((e) => [e.name, e.type]),
      [
        ["a", "file"],
        ["b", "directory"],
      ],
    );
  });

  void test("an unparsable line is a PROTOCOL error naming the fix, not a missing file", () => {
    assert.throws(
      () => parseListing("-rw-r--r-- 1 u g 1234 31.01.2024 12:34 de.txt", "list", { now }),
      (error: unknown) => isStorageError(error, "PROTOCOL") && /listDateFormat/.test(error.message),
    );
    assert.throws(() => parseListing("hello world", "list", { now }), /cannot parse/);
  });
});

const MLSD_CASES: [string, string, Omit<Entry, "raw"> | undefined][] = [
  [
    "Pure-FTPd file with spaces",
    "type=file;size=1024;modify=20240102030405;UNIX.mode=0644;UNIX.uid=1000;UNIX.gid=1000;unique=803g11d; file name.txt",
    { name: "file name.txt", type: "file", size: 1024, mtime: utc("2024-01-02T03:04:05") },
  ],
  [
    "ProFTPD with milliseconds, facts in another order",
    "modify=20240102030405.123;perm=adfrw;size=10;type=file;unique=FD00U1234;UNIX.group=1000;UNIX.mode=0644;UNIX.owner=1000; x",
    { name: "x", type: "file", size: 10, mtime: utc("2024-01-02T03:04:05.123") },
  ],
  ["cdir", "type=cdir;modify=20240102030405;perm=flcdmpe; .", undefined],
  ["pdir", "type=pdir;modify=20240102030405;perm=flcdmpe; ..", undefined],
  [
    "directory with sizd",
    "type=dir;sizd=4096;modify=20240102030405; sub dir",
    { name: "sub dir", type: "directory", size: 0, mtime: utc("2024-01-02T03:04:05") },
  ],
  [
    "ProFTPD symlink",
    "type=OS.unix=symlink;size=6;modify=20240102030405; lnk",
    {
      name: "lnk",
      type: "symlink",
      size: 6,
      mtime: utc("2024-01-02T03:04:05"),
    },
  ],
  [
    "slink form",
    "type=OS.unix=slink:/target;size=6; lnk2",
    { name: "lnk2", type: "symlink", size: 6 },
  ],
  [
    "upper-case fact names",
    "Type=file;Size=5;Modify=20240102030405; UP",
    {
      name: "UP",
      type: "file",
      size: 5,
      mtime: utc("2024-01-02T03:04:05"),
    },
  ],
];

void describe("MLSD parsing", () => {
  for (const [name, line, expect] of MLSD_CASES) {
    void test(name, () => {
      const entry = parseMlsdLine(line);
      assert.deepEqual(entry, expect === undefined ? undefined : { ...expect, raw: line });
    });
  }

  void test("MLST reply line with a leading space", () => {
    assert.equal(parseMlsdLine(" type=file;size=3; /home/u/a b")?.name, "/home/u/a b");
  });

  void test("MLSx times", () => {
    assert.equal(parseMlsxTime("20240102030405")?.toISOString(), "2024-01-02T03:04:05.000Z");
    assert.equal(parseMlsxTime("2024010203"), undefined);
  });

  void test("date formats compile alternatives", () => {
    assert.ok(
      new RegExp(compileDateFormat("DD.MM.YYYY HH:mm|MMM D YYYY").source, "u").test("Jan 5 2020"),
    );
  });
});
