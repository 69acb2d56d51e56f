/**
 * deploy's upload line (cli/upload-progress.ts) on a fake clock: the store reports every 64 KiB,
 * a terminal gets at most one redraw per 100 ms plus the first report and the total; off a
 * terminal nothing is drawn.
 */
import { describe, expect, it } from 'vitest';
import { describeProgress, uploadProgress } from '../../../gateway/src/cli/upload-progress.js';
import { captureIo } from './capture-io.js';

const MiB = 1024 * 1024;

describe('upload progress', () => {
  it('upload progress: redraws at most every 100 ms, always the first report and the total', () => {
    const redraws: string[] = [];
    const io = { ...captureIo(true), redraw: (l: string) => void redraws.push(l) };
    let nowMs = 0;
    const report = uploadProgress('grub', io, () => nowMs);
    // 4 MiB in 64 KiB steps, 10 ms apart: 64 reports over 640 ms.
    for (let sent = 0; sent < 4 * MiB; sent += 64 * 1024) {
      report(sent, 4 * MiB);
      nowMs += 10;
    }
    report(4 * MiB, 4 * MiB);
    expect(redraws[0]).toBe('grub: uploading 0.0 MiB / 4.0 MiB (0%)');
    expect(redraws.at(-1)).toBe('grub: uploading 4.0 MiB / 4.0 MiB (100%)');
    // 640 ms of reports: the first, one per 100 ms after it, and the total.
    expect(redraws.length).toBe(8);
    expect(redraws[1]).toBe('grub: uploading 0.6 MiB / 4.0 MiB (15%)');
    expect(io.stdout).toEqual([]);
  });

  it('upload progress: in a pipe nothing is drawn', () => {
    const redraws: string[] = [];
    const io = { ...captureIo(false), redraw: (l: string) => void redraws.push(l) };
    const report = uploadProgress('grub', io, () => 0);
    report(0, 100);
    report(100, 100);
    expect(redraws).toEqual([]);
    expect(io.stdout).toEqual([]);
  });

  it('upload progress: KiB below 1 MiB, MiB above', () => {
    expect(describeProgress(8 * 1024, 15_718)).toBe('8.0 KiB / 15.3 KiB (52%)');
    expect(describeProgress(3 * MiB, 6 * MiB)).toBe('3.0 MiB / 6.0 MiB (50%)');
    expect(describeProgress(0, 0)).toBe('0.0 KiB / 0.0 KiB (100%)');
  });
});
