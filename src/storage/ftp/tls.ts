/**
 * TLS for FTPS control and data connections: version bounds, trust (`tlsTrust` ca |
 * fingerprint | insecure), client certificates, session reuse on data connections.
 *
 * Every handshake runs with `rejectUnauthorized: false` and the certificate is judged here,
 * after the handshake and before a single byte is sent, so that an untrusted certificate can
 * be reported with its fingerprint and the exact setting that trusts it.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from "node:tls";
import { StorageError } from "../errors.ts";
import type { FtpSettings } from "../settings.ts";

/** What every TLS connection of one destination uses. */
export interface TlsPolicy {
  readonly trust: FtpSettings["tlsTrust"];
  readonly expectedFingerprint: string | undefined;
  /** Options shared by control and data connections (host identity, versions, CA, client cert). */
  readonly options: ConnectionOptions;
  readonly where: string;
}

function readPem(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new StorageError(
      "INVALID",
      `Reading ${setting} ${JSON.stringify(file)} failed: ${(error as Error).message}. Check the path.`,
      { cause: error },
    );
  }
}

/** Builds the TLS policy; throws INVALID when a certificate file cannot be read. */
export function createTlsPolicy(settings: FtpSettings): TlsPolicy {
  const options: ConnectionOptions = {
    // The same identity on control and data connections: Node binds a reusable session to
    // the host it was authenticated for and refuses to resume it under another one.
    host: settings.host,
    ...(isIP(settings.host) === 0 ? { servername: settings.host } : {}),
    minVersion: `TLSv${settings.tlsMinVersion}`,
    maxVersion: `TLSv${settings.tlsMaxVersion}`,
    rejectUnauthorized: false,
  };
  if (settings.caFile !== undefined) options.ca = readPem(settings.caFile, "caFile");
  if (settings.clientCert !== undefined && settings.clientKey !== undefined) {
    options.cert = readPem(settings.clientCert, "clientCert");
    options.key = readPem(settings.clientKey, "clientKey");
  }
  return {
    trust: settings.tlsTrust,
    expectedFingerprint: settings.tlsFingerprint,
    options,
    where: `${settings.host}:${String(settings.port ?? (settings.tls === "implicit" ? 990 : 21))}`,
  };
}

/** SHA-256 fingerprint `AA:BB:…` of the peer's leaf certificate, if it sent one. */
export function peerFingerprint(socket: TLSSocket): string | undefined {
  // An empty object when the peer sent no certificate, whatever the type says.
  const cert = socket.getPeerCertificate() as Partial<PeerCertificate>;
  const fingerprint = cert.fingerprint256;
  return fingerprint === undefined || fingerprint === "" ? undefined : fingerprint.toUpperCase();
}

/** `TLSv1.3 TLS_AES_256_GCM_SHA384`-style description of a TLS socket. */
export function describeTls(socket: TLSSocket): { version: string; cipher: string } {
  return { version: socket.getProtocol() ?? "unknown", cipher: socket.getCipher().standardName };
}

function trustError(policy: TlsPolicy, fingerprint: string | undefined, why: string): StorageError {
  const shown = fingerprint ?? "(no certificate)";
  const fix =
    fingerprint === undefined
      ? ""
      : ` If it is the server's certificate, trust it with --set tlsTrust=fingerprint --set tlsFingerprint=${fingerprint} (or --set caFile=<CA PEM file> when your own CA signed it).`;
  return new StorageError(
    "TLS",
    `The TLS certificate of ${policy.where} is not trusted: ${why}. Its SHA-256 fingerprint is ${shown}.${fix}`,
    { retriable: false },
  );
}

/** Judges the control connection's certificate by `tlsTrust`; throws TLS when untrusted. */
export function checkControlCertificate(socket: TLSSocket, policy: TlsPolicy): string | undefined {
  const fingerprint = peerFingerprint(socket);
  switch (policy.trust) {
    case "insecure":
      return fingerprint;
    case "fingerprint":
      if (fingerprint !== undefined && fingerprint === policy.expectedFingerprint)
        return fingerprint;
      throw trustError(
        policy,
        fingerprint,
        `it does not match tlsFingerprint ${policy.expectedFingerprint ?? "(unset)"}; the certificate changed or another server answered`,
      );
    case "ca":
      if (socket.authorized) return fingerprint;
      throw trustError(policy, fingerprint, String(socket.authorizationError));
  }
}

/**
 * Judges a data connection's certificate: it must be the control connection's (unless
 * tlsTrust=insecure). A resumed session may not carry the certificate; the resumption itself
 * proves the peer holds the session we verified.
 */
export function checkDataCertificate(
  socket: TLSSocket,
  policy: TlsPolicy,
  controlFingerprint: string | undefined,
): void {
  if (policy.trust === "insecure") return;
  const fingerprint = peerFingerprint(socket);
  if (fingerprint === undefined && socket.isSessionReused()) return;
  if (fingerprint !== controlFingerprint) {
    throw trustError(
      policy,
      fingerprint,
      "the data connection presented another certificate than the control connection",
    );
  }
}

/**
 * Runs a client handshake over `socket` and resolves with the TLS socket once it is secure.
 * Rejects with TLS (handshake failure, with the versions allowed) or the socket's error.
 */
export function startTls(
  socket: Duplex,
  policy: TlsPolicy,
  purpose: string,
  session?: Buffer,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = connect({
      ...policy.options,
      socket,
      ...(session === undefined ? {} : { session }),
    });
    const onError = (error: Error) => {
      tls.destroy();
      reject(
        new StorageError(
          "TLS",
          `TLS handshake on the ${purpose} to ${policy.where} failed: ${error.message}. Check tls (explicit/implicit), tlsMinVersion ${String(policy.options.minVersion)} and tlsMaxVersion ${String(policy.options.maxVersion)}.`,
          { cause: error, retriable: false },
        ),
      );
    };
    const onClose = () => {
      onError(new Error("the server closed the connection during the handshake"));
    };
    tls.once("error", onError);
    tls.once("close", onClose);
    tls.once("secureConnect", () => {
      tls.off("error", onError);
      tls.off("close", onClose);
      // Errors after the handshake are observed by whoever owns the socket next; until then
      // an unobserved 'error' must not crash the process.
      tls.on("error", () => undefined);
      resolve(tls);
    });
  });
}
