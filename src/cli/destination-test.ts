/** `ferry destination test <url>`: connect, run the round trip, report. */
import type { Command } from "commander";
import { runRoundTrip, type RoundTripReport, type StepResult } from "../destination/round-trip.ts";
import { isStorageError } from "../storage/errors.ts";
import { openStorage } from "../storage/open.ts";
import { formatSize } from "../storage/units.ts";
import { redactUrl } from "../storage/url.ts";
import { EXIT } from "./errors.ts";
import { resolveDestination, type DestinationFlags } from "./destination-flags.ts";
import { addDestinationFlags } from "./destination-flags.ts";

interface TestFlags extends DestinationFlags {
  json?: boolean;
}

export function registerDestinationTest(parent: Command): void {
  const command = parent
    .command("test")
    .description(
      "Connect to a destination and run a round trip in its backup directory: create it if missing, write an object over 1 MiB, stat, list, read back and compare, read a range, overwrite by rename, set an mtime where supported, remove. Reports the server, the capabilities found, free space and timings.",
    )
    .argument(
      "<destination>",
      "URL or local path, e.g. ftpes://user@host/backups, sftp://user@host/backups, ./backups",
    )
    .option("--json", "print one machine-readable JSON report on stdout");
  addDestinationFlags(command);
  command.addHelpText(
    "after",
    `
Exit status: 0 when every required step passed, 1 when one failed or the connection failed,
2 for bad flags, settings or URLs.

Examples:
  ferry destination test ./backups
  ferry destination test ftpes://backup@storage.example/backups --password-file ~/.ferry-pass
  ferry destination test ftps://backup@nas.local/b --set tlsTrust=fingerprint --set tlsFingerprint=AB:CD:…
  ferry destination test sftp://u123@box.example/backups --set privateKey=~/.ssh/id_ed25519 \\
      --set hostKey=SHA256:… --protocol-log /tmp/ferry.log
  ferry destination test ftp://user@host/b --set passive=false --set activePorts=40000-40100

Settings (--set key=value or URL query parameters): see docs/settings.md.`,
  );
  command.action(async (url: string, flags: TestFlags) => {
    const { settings, warnings } = await resolveDestination(url, flags);
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    const json = flags.json === true;
    if (!json) process.stderr.write(`Connecting to ${redactUrl(url)} …\n`);
    const t0 = performance.now();
    let storage;
    try {
      storage = await openStorage(settings);
    } catch (error) {
      if (json) {
        const failure = isStorageError(error)
          ? { code: error.code, message: error.message }
          : { code: "UNKNOWN", message: error instanceof Error ? error.message : String(error) };
        process.stdout.write(
          `${JSON.stringify({ destination: redactUrl(url), ok: false, error: failure }, null, 2)}\n`,
        );
      }
      throw error;
    }
    const connectMs = performance.now() - t0;
    let report: RoundTripReport;
    try {
      report = await runRoundTrip(storage, json ? undefined : printStep);
    } finally {
      await storage.close();
    }
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ destination: redactUrl(url), connectMs, ...report }, null, 2)}\n`,
      );
    } else {
      printSummary(report, connectMs);
    }
    process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
  });
}

function printStep(step: StepResult): void {
  const mark = step.ok ? "ok  " : step.required ? "FAIL" : "--  ";
  const detail = step.detail === undefined ? "" : `  (${step.detail})`;
  process.stdout.write(
    `  ${mark} ${step.name.padEnd(34)} ${step.ms.toFixed(0).padStart(6)} ms${detail}\n`,
  );
}

function printSummary(report: RoundTripReport, connectMs: number): void {
  const { server, capabilities } = report;
  const lines = [
    "",
    `Server:       ${server.protocol}${server.banner ? ` — ${server.banner}` : ""}`,
    ...(server.tls
      ? [
          `Security:     ${server.tls.version} ${server.tls.cipher}${server.tls.sessionReused === undefined ? "" : server.tls.sessionReused ? ", data sessions resumed" : ", data sessions not resumed"}`,
        ]
      : []),
    ...(server.fingerprint ? [`Fingerprint:  ${server.fingerprint}`] : []),
    `Directory:    ${server.root ?? "?"}`,
    ...(server.features && server.features.length > 0
      ? [`Features:     ${server.features.join(", ")}`]
      : []),
    ...(server.notes ?? []).map((note) => `Note:         ${note}`),
    `Capabilities: connections ${capabilities.maxConnections === 0 ? "unlimited" : String(capabilities.maxConnections)}, atomic replace ${yes(capabilities.atomicReplace)}, set mtime ${yes(capabilities.setMtime)}, free space ${yes(capabilities.freeSpace)}, ranged read ${yes(capabilities.rangedRead)}${capabilities.readOnly ? ", READ-ONLY" : ""}`,
    `Free space:   ${report.freeSpace ? `${formatSize(report.freeSpace.available)} available${report.freeSpace.total === undefined ? "" : ` of ${formatSize(report.freeSpace.total)}`} (${report.freeSpace.source})` : "unknown (the server offers no way to ask)"}`,
    `Timings:      connect ${connectMs.toFixed(0)} ms, round trip ${report.totalMs.toFixed(0)} ms`,
    "",
    report.ok
      ? "Destination OK: every required step passed."
      : "Destination FAILED: see the steps marked FAIL above.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

function yes(value: boolean): string {
  return value ? "yes" : "no";
}
