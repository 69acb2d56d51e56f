/**
 * `tftpfn deploy`'s upload line (issue 12: "shows progress for the upload"). The object store
 * reports bytes as the request consumes them (objects/counted-body.ts: every 64 KiB), far more
 * often than a terminal needs: the line is redrawn at most every PROGRESS_REDRAW_MS, and always
 * for the first report and the total. Off a terminal nothing is drawn; deploy prints one
 * summary line when the upload is done.
 */
import type { Io } from './control-cli.js';

export const PROGRESS_REDRAW_MS = 100;

/** The onProgress of a publish: redraws `NAME: uploading 1.5 MiB / 3.0 MiB (50%)` on a terminal. */
export function uploadProgress(name: string, io: Io, now: () => number = Date.now): (sentBytes: number, totalBytes: number) => void {
  let drawnAtMs: number | undefined;
  return (sentBytes, totalBytes) => {
    if (!io.isTTY || !io.redraw) return;
    const t = now();
    if (sentBytes < totalBytes && drawnAtMs !== undefined && t - drawnAtMs < PROGRESS_REDRAW_MS) return;
    drawnAtMs = t;
    io.redraw(`${name}: uploading ${describeProgress(sentBytes, totalBytes)}`);
  };
}

export function describeProgress(sentBytes: number, totalBytes: number): string {
  const size = (n: number) => (totalBytes >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
  return `${size(sentBytes)} / ${size(totalBytes)} (${totalBytes ? Math.floor((sentBytes / totalBytes) * 100) : 100}%)`;
}
