/**
 * Settings that depend on each other: defaults implied by an explicitly given setting, and the
 * refusal of any setting that would have no effect in the combination given — a setting is never
 * parsed and ignored.
 */
import { SettingsError, type StorageSettings } from "./settings.ts";

/** Sets a default that an explicitly given setting implies (tlsFingerprint → tlsTrust). */
export function impliedSettings(input: Record<string, unknown>): Record<string, unknown> {
  const result = { ...input };
  if (result.type === "ftp" && result.tlsFingerprint !== undefined) {
    result.tlsTrust ??= "fingerprint";
  }
  if (result.type === "sftp") {
    if (result.knownHostsFile !== undefined) result.hostKeyTrust ??= "knownHosts";
    if (result.agent !== undefined) result.auth ??= "agent";
  }
  return result;
}

/**
 * Settings that would have no effect in the combination given are refused, each with the
 * setting that would make it count: a setting is never parsed and ignored.
 */
export function checkCombinations(
  settings: StorageSettings,
  input: Record<string, unknown>,
): StorageSettings {
  const given = (name: string) => input[name] !== undefined;
  const problems: string[] = [];
  const noEffect = (names: readonly string[], when: string, fix: string) => {
    const present = names.filter(given);
    if (present.length > 0) {
      problems.push(
        `${present.join(", ")} ${present.length > 1 ? "have" : "has"} no effect ${when}: ${fix}`,
      );
    }
  };
  if (settings.type === "ftp") {
    if (settings.tls === "none") {
      noEffect(
        [
          "tlsMinVersion",
          "tlsMaxVersion",
          "tlsTrust",
          "caFile",
          "tlsFingerprint",
          "protectData",
          "clearControl",
          "tlsSessionReuse",
          "clientCert",
          "clientKey",
        ],
        "with tls=none",
        "use ftpes:// (explicit TLS) or ftps:// (implicit TLS), or --set tls=explicit",
      );
    }
    if (settings.tls !== "none") {
      if (settings.tlsTrust === "fingerprint" && settings.tlsFingerprint === undefined) {
        problems.push("tlsTrust=fingerprint needs tlsFingerprint (the SHA-256 of the certificate)");
      }
      if (settings.tlsTrust !== "fingerprint") {
        noEffect(
          ["tlsFingerprint"],
          `with tlsTrust=${settings.tlsTrust}`,
          "set tlsTrust=fingerprint",
        );
      }
      if (settings.tlsTrust !== "ca") {
        noEffect(["caFile"], `with tlsTrust=${settings.tlsTrust}`, "set tlsTrust=ca");
      }
      if ((settings.clientCert === undefined) !== (settings.clientKey === undefined)) {
        problems.push("clientCert and clientKey must be given together");
      }
      if (Number(settings.tlsMinVersion) > Number(settings.tlsMaxVersion)) {
        problems.push(
          `tlsMinVersion ${settings.tlsMinVersion} is above tlsMaxVersion ${settings.tlsMaxVersion}`,
        );
      }
    }
    if (settings.passive) {
      noEffect(
        ["activeAddress", "activePorts"],
        "in passive mode",
        "set passive=false for active mode",
      );
      if (settings.passiveAddress !== "server") {
        noEffect(
          ["allowForeignDataHost"],
          `with passiveAddress=${settings.passiveAddress}`,
          "set passiveAddress=server",
        );
      }
    } else {
      noEffect(
        ["passiveCommand", "passiveAddress", "allowForeignDataHost"],
        "in active mode (passive=false)",
        "remove them, or set passive=true",
      );
      if (settings.proxy !== undefined) {
        problems.push(
          "active mode (passive=false) cannot work through a proxy: the server would connect to the proxy's address; use passive mode",
        );
      }
    }
    if (settings.list === "mlsd") {
      noEffect(["listHidden", "listDateFormat"], "with list=mlsd", "set list=auto or list=list");
    }
    if (settings.anonymous) {
      noEffect(["user", "password"], "with anonymous=true", "remove them, or set anonymous=false");
    } else if (settings.user === undefined) {
      problems.push("user is required (or anonymous=true)");
    }
  }
  if (settings.type === "sftp") {
    if (settings.user === undefined) problems.push("user is required for sftp");
    if (settings.hostKeyTrust === "knownHosts" && settings.knownHostsFile === undefined) {
      problems.push("hostKeyTrust=knownHosts needs knownHostsFile");
    }
    if (settings.hostKeyTrust !== "fingerprint") {
      noEffect(
        ["hostKey"],
        `with hostKeyTrust=${settings.hostKeyTrust}`,
        "set hostKeyTrust=fingerprint",
      );
    }
    if (settings.hostKeyTrust !== "knownHosts") {
      noEffect(
        ["knownHostsFile"],
        `with hostKeyTrust=${settings.hostKeyTrust}`,
        "set hostKeyTrust=knownHosts",
      );
    }
    if (settings.auth === "key" && settings.privateKey === undefined) {
      problems.push("auth=key needs privateKey (path of an OpenSSH or PEM key file)");
    }
    if (settings.auth === "password" || settings.auth === "agent") {
      noEffect(["privateKey", "passphrase"], `with auth=${settings.auth}`, "set auth=key");
    } else if (settings.privateKey === undefined) {
      noEffect(["passphrase"], "without privateKey", "set privateKey to the key file it unlocks");
    }
    if (settings.auth !== "agent") {
      noEffect(["agent"], `with auth=${settings.auth ?? "password"}`, "set auth=agent");
    }
  }
  if (settings.type === "ftp" || settings.type === "sftp") {
    if (settings.proxy !== undefined && settings.ipFamily !== "auto") {
      problems.push(
        "ipFamily has no effect through a proxy (the proxy resolves and dials the host): remove it",
      );
    }
  }
  if (problems.length > 0) {
    throw new SettingsError(`Invalid destination settings:\n  ${problems.join("\n  ")}`);
  }
  return settings;
}
