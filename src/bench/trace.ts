import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../util/paths.js';

/**
 * Writes a trace of about `target` lines shaped like a real one: the I/O phase of the bundled real trace
 * (examples/linux-mixed-io.log) repeated, between its real start and end. Returns the number of lines.
 */
export function buildTrace(target: number, out: string): number {
  const src = fs.readFileSync(path.join(PACKAGE_ROOT, 'examples', 'linux-mixed-io.log'), 'utf8').split('\n');
  if (src[src.length - 1] === '') src.pop();
  // The repeated block runs from just after Linux submits its long-lived Async Event Request (which stays
  // outstanding, so repeating it would reuse cid 31 while live) to just before the power-off queue deletion.
  // Every other command of the block completes inside it, so repetitions are consistent NVMe.
  const aer = src.findIndex((l) => l.startsWith('pci_nvme_aer cid'));
  const firstDelete = src.findIndex((l) => l.includes("opname 'NVME_ADM_CMD_DELETE_SQ'"));
  // Back up to the doorbell write that submitted the first Delete SQ.
  let cut = firstDelete;
  while (cut > 0 && !src[cut]!.startsWith('pci_nvme_mmio_write addr 0x1000 ')) cut--;
  const head = src.slice(0, aer + 1);
  const body = src.slice(aer + 1, cut);
  const tail = src.slice(cut);
  const fd = fs.openSync(out, 'w');
  let n = 0;
  const w = (ls: string[]): void => {
    fs.writeSync(fd, ls.join('\n') + '\n');
    n += ls.length;
  };
  w(head);
  while (n + body.length + tail.length < target) w(body);
  w(tail);
  fs.closeSync(fd);
  return n;
}
