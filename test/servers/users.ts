// System accounts (ferrytest-*) for the servers that authenticate against /etc/passwd + shadow
// (vsftpd through PAM, sshd), plus the PAM service file vsftpd uses. Created idempotently; safe
// when several test processes race (useradd "already exists" is fine, lock failures are retried).
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { mustRun, runCommand, sleep } from "./runtime.ts";

export interface SystemUser {
  name: string;
  password: string;
  uid: number;
  gid: number;
}

export const STATE_DIR = "/var/lib/ferrytest";
export const PAM_SERVICE = "ferrytest-vsftpd";
const PAM_FILE = `/etc/pam.d/${PAM_SERVICE}`;
const PAM_TEXT = `# Written by ferry's test harness (test/servers/users.ts) for its vsftpd test servers.
# Plain pam_unix: no ftpusers list, no /etc/shells check.
auth     required pam_unix.so
account  required pam_unix.so
session  required pam_permit.so
`;

interface UserSpec {
  name: string;
  password: string;
  shell: string;
  /** Home in /etc/passwd. The servers use per-server directories instead (see each starter). */
  home: string;
}

const SPECS = {
  pass: {
    name: "ferrytest-pass",
    password: "ferry-Pass-1",
    shell: "/bin/bash",
    home: `${STATE_DIR}/home/ferrytest-pass`,
  },
  key: {
    name: "ferrytest-key",
    password: "ferry-Key-1",
    shell: "/bin/sh",
    home: `${STATE_DIR}/home/ferrytest-key`,
  },
  // sshd chroots this user; inside the chroot its home is "/".
  chroot: {
    name: "ferrytest-chroot",
    password: "ferry-Chroot-1",
    shell: "/usr/sbin/nologin",
    home: "/",
  },
} satisfies Record<string, UserSpec>;

export type UserRole = keyof typeof SPECS;
export type SystemUsers = Record<UserRole, SystemUser>;

async function retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e; // typically "cannot lock /etc/passwd" while another test process edits it
      await sleep(100 + Math.random() * 200);
    }
  }
  throw new Error(`${what}: ${last instanceof Error ? last.message : String(last)}`);
}

async function lookup(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const r = await runCommand("getent", ["passwd", name]);
  if (r.code !== 0) return undefined;
  const f = r.stdout.trim().split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

async function shadowHash(name: string): Promise<string | undefined> {
  const shadow = await readFile("/etc/shadow", "utf8");
  for (const line of shadow.split("\n")) {
    const f = line.split(":");
    if (f[0] === name) return f[1];
  }
  return undefined;
}

/** SHA-512 crypt, so that we can verify the stored hash with openssl (it cannot do yescrypt). */
async function cryptSha512(password: string, salt?: string): Promise<string> {
  const args = ["passwd", "-6", ...(salt === undefined ? [] : ["-salt", salt]), "-stdin"];
  return (await mustRun("openssl", args, { input: password + "\n" })).trim();
}

async function ensureUser(spec: UserSpec): Promise<SystemUser> {
  let ids = await lookup(spec.name);
  if (ids === undefined) {
    await retry(`useradd ${spec.name}`, async () => {
      const r = await runCommand("useradd", [
        ...["--home-dir", spec.home, "--shell", spec.shell, "--user-group"],
        ...(spec.home === "/" ? ["--no-create-home"] : ["--create-home"]),
        spec.name,
      ]);
      if (r.code !== 0 && (await lookup(spec.name)) === undefined) throw new Error(r.stderr);
    });
    ids = await lookup(spec.name);
    if (ids === undefined) throw new Error(`useradd ${spec.name} did not create the user`);
  }
  const current = await shadowHash(spec.name);
  const salt = current?.startsWith("$6$") ? current.split("$")[2] : undefined;
  const matches = salt !== undefined && (await cryptSha512(spec.password, salt)) === current;
  if (!matches) {
    const hash = await cryptSha512(spec.password);
    await retry(`chpasswd ${spec.name}`, () =>
      mustRun("chpasswd", ["-e"], { input: `${spec.name}:${hash}\n` }),
    );
  }
  return { name: spec.name, password: spec.password, uid: ids.uid, gid: ids.gid };
}

async function ensurePamService(): Promise<void> {
  const current = await readFile(PAM_FILE, "utf8").catch(() => "");
  if (current === PAM_TEXT) return;
  const tmp = `${PAM_FILE}.${String(process.pid)}.tmp`;
  await writeFile(tmp, PAM_TEXT, { mode: 0o644 });
  await rename(tmp, PAM_FILE);
}

let usersPromise: Promise<SystemUsers> | undefined;

/** Creates (once per process) the ferrytest-* accounts and the vsftpd PAM service. */
export function ensureSystemUsers(): Promise<SystemUsers> {
  usersPromise ??= (async () => {
    // root-owned, not group/world-writable: sshd's ChrootDirectory checks every component
    await mkdir(`${STATE_DIR}/home`, { recursive: true });
    await chmod(STATE_DIR, 0o755);
    await ensurePamService();
    // sequential: useradd/chpasswd take the same locks
    const pass = await ensureUser(SPECS.pass);
    const key = await ensureUser(SPECS.key);
    const chroot = await ensureUser(SPECS.chroot);
    return { pass, key, chroot };
  })();
  usersPromise.catch(() => (usersPromise = undefined));
  return usersPromise;
}
