/** Every tool the benchmark knows, in the order it runs them. */
import { borg } from "./borg.ts";
import { ferryFtp, ferryFtps, ferryLocal, ferrySftp } from "./ferry.ts";
import { lftp } from "./lftp.ts";
import { rcloneFtp, rcloneFtps, rcloneSftp } from "./rclone.ts";
import { restic } from "./restic.ts";
import type { Tool } from "./tool.ts";

/** Peers first, then ferry; each name is also an --only choice. */
export const TOOLS: readonly Tool[] = [
  restic,
  borg,
  rcloneFtp,
  rcloneFtps,
  rcloneSftp,
  lftp,
  ferryLocal,
  ferrySftp,
  ferryFtp,
  ferryFtps,
];
