import type { TraceFormat } from '../parse/record.js';

/** Decides a trace's format from its first lines; `--input-format` overrides. */
export function detectFormat(lines: string[]): TraceFormat | undefined {
  let qemu = 0;
  let ftrace = 0;
  let canonical = 0;
  let serial = 0;
  for (const l of lines.slice(0, 400)) {
    if (/^(\d+@\d+\.\d+:)?pci_nvme_[a-z0-9_]+( |$)/.test(l)) qemu++;
    else if (/^# tracer:/.test(l) || /\[\d{3}\] \S+ +\d+\.\d+: nvme_[a-z_]+: /.test(l)) ftrace++;
    else if (/^(\[\s*\d+(\.\d+)?\]\s*)?nvmeproof-canonical\b/.test(l) || /^\{"nvmeproof":/.test(l)) canonical += 1_000_000; // decisive; a console timestamp may precede the header
    else if (/^(?:\[\s*\d+\.\d+\]\s*)?[a-z][a-z0-9_-]*: [a-z][a-z ]*[a-z] [a-z_][a-z0-9_]*=/.test(l.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b./g, ''))) serial += 5;
    else if (/SeaBIOS|Linux version|INIT:|\[\s*\d+\.\d+\]/.test(l)) serial++;
  }
  const best = Math.max(qemu, ftrace, canonical, serial);
  if (best === 0) return undefined;
  if (best === canonical) return 'canonical';
  if (best === qemu) return 'qemu';
  if (best === ftrace) return 'ftrace';
  return 'serial';
}
