/** The state of one logged-in FTP connection, shared by the operation modules. */
import type { FtpSettings } from "../settings.ts";
import type { ServerInfo } from "../storage.ts";
import type { Control } from "./control.ts";
import type { DataContext } from "./data-connection.ts";
import type { MtimeMethod } from "./mtime.ts";
import type { FeatureSet, Quirks, ServerKind } from "./quirks.ts";
import type { TransferContext } from "./transfer-control.ts";

export interface Session extends TransferContext {
  readonly id: number;
  readonly settings: FtpSettings;
  readonly control: Control;
  readonly data: DataContext;
  readonly kind: ServerKind;
  readonly quirks: Quirks;
  readonly feat: FeatureSet;
  /** Absolute backup directory. */
  readonly root: string;
  /** What info() reports (banner, FEAT, TLS, fingerprint, root, notes). */
  readonly info: ServerInfo;
  /** MLST/MLSD usable (advertised, allowed by `list`, not refused yet). */
  mlst: boolean;
  mlsd: boolean;
  /** `LIST -a` to show dot-files: true/false by `listHidden`, or learned (auto). */
  listDashA: boolean;
  /** Ways to set mtimes that are still worth trying, best first. */
  mtimeMethods: MtimeMethod[];
  /** AVBL: undefined = not tried, false = refused. */
  avbl: boolean | undefined;
  /** Set when the connection can no longer be used (reason for messages). */
  dead: string | undefined;
}
