// Test PKI made with the openssl CLI: a self-signed CA, a server certificate for 127.0.0.1 and
// localhost signed by it, and a client certificate (made once per process, copied per server).
import { X509Certificate, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { chmod, copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { mustRun } from "./runtime.ts";

export interface CertSet {
  /** PEM of the self-signed CA that signed both certificates. */
  caFile: string;
  caKeyFile: string;
  /** Server leaf certificate (PEM) and its unencrypted key (PKCS#8 PEM). */
  certFile: string;
  keyFile: string;
  /** Server certificate followed by its key in one PEM file (Pure-FTPd wants that). */
  combinedFile: string;
  /** SHA-256 of the server leaf certificate (DER), "AA:BB:..." upper-case hex. */
  fingerprint: string;
  clientCertFile: string;
  clientKeyFile: string;
}

const CONFIG = `
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca

[dn]
CN = ferry test CA

[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

async function signedCert(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  conf: string,
): Promise<{ cert: string; key: string }> {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  await mustRun("openssl", [
    ...["req", "-new", "-newkey", "rsa:2048", "-nodes", "-config", conf],
    ...["-subj", subject, "-keyout", key, "-out", csr],
  ]);
  await mustRun("openssl", [
    ...["x509", "-req", "-in", csr, "-CA", path.join(dir, "ca.pem")],
    ...["-CAkey", path.join(dir, "ca.key"), "-set_serial", "0x" + randomBytes(8).toString("hex")],
    ...["-days", "825", "-sha256", "-extfile", conf, "-extensions", extensions, "-out", cert],
  ]);
  await chmod(key, 0o600);
  return { cert, key };
}

/** Generates the CA, server and client certificates into `dir`. */
async function generate(dir: string): Promise<void> {
  const conf = path.join(dir, "openssl.cnf");
  await writeFile(conf, CONFIG);
  const caKeyFile = path.join(dir, "ca.key");
  await mustRun("openssl", [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-config", conf, "-days", "3650"],
    ...["-sha256", "-keyout", caKeyFile, "-out", path.join(dir, "ca.pem")],
  ]);
  await chmod(caKeyFile, 0o600);
  const [server] = await Promise.all([
    signedCert(dir, "server", "/CN=127.0.0.1", "v3_server", conf),
    signedCert(dir, "client", "/CN=ferry test client", "v3_client", conf),
  ]);
  const combined = (await readFile(server.cert, "utf8")) + (await readFile(server.key, "utf8"));
  await writeFile(path.join(dir, "server-combined.pem"), combined, { mode: 0o600 });
}

const FILES = [
  "ca.pem",
  "ca.key",
  "server.pem",
  "server.key",
  "server-combined.pem",
  "client.pem",
  "client.key",
];

// RSA key generation costs most of a server's start-up time, so one PKI is made per process
// and copied into each server's directory.
let shared: Promise<string> | undefined;

function sharedPki(): Promise<string> {
  shared ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ferry-pki-"));
    process.once("exit", () => {
      rmSync(dir, { recursive: true, force: true });
    });
    await generate(dir);
    return dir;
  })();
  shared.catch(() => (shared = undefined));
  return shared;
}

/** Puts CA, server and client certificates (and keys) into `dir`. */
export async function makeCerts(dir: string): Promise<CertSet> {
  const src = await sharedPki();
  for (const f of FILES) await copyFile(path.join(src, f), path.join(dir, f));
  const at = (f: string): string => path.join(dir, f);
  return {
    caFile: at("ca.pem"),
    caKeyFile: at("ca.key"),
    certFile: at("server.pem"),
    keyFile: at("server.key"),
    combinedFile: at("server-combined.pem"),
    fingerprint: new X509Certificate(await readFile(at("server.pem"))).fingerprint256,
    clientCertFile: at("client.pem"),
    clientKeyFile: at("client.key"),
  };
}
