import { describe, expect, it } from 'vitest';
import path from 'node:path';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { CLI, cli, EXAMPLES, readLines } from './helpers.js';

describe('nvmeproof parse', () => {
  it('prints one typed, normalised JSON event per QEMU line and a summary on stderr', () => {
    const r = cli(['parse', path.join(EXAMPLES, 'linux-boot-smp1.log')]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; event: string; kind: string | null; fields: Record<string, unknown>; raw: string });
    const raw = readLines(path.join(EXAMPLES, 'linux-boot-smp1.log'));
    expect(events).toHaveLength(raw.length);
    events.forEach((e, i) => {
      expect(e.line).toBe(i + 1);
      expect(e.raw).toBe(raw[i]);
    });
    expect(events[13]).toMatchObject({ event: 'pci_nvme_mmio_write', kind: 'reg.write', fields: { addr: 0x28, data: 0x1ffdd000, size: 4 } });
    expect(r.stderr).toMatch(/3323 lines, 3323 events \(qemu\), 0 malformed/);
  });

  it('a QEMU file typed from its bytes prints exactly what the Ohm grammars alone print, from a file and from standard input', () => {
    const file = path.join(EXAMPLES, 'linux-boot-smp1.log');
    const fast = cli(['parse', file]);
    const ohm = spawnSync(process.execPath, [CLI, 'parse', file], { encoding: 'utf8', env: { ...process.env, NVMEPROOF_NO_FAST_PATH: '1' }, maxBuffer: 1 << 28 });
    expect(fast.stdout).toBe(ohm.stdout);
    expect(fast.stderr).toBe(ohm.stderr);
    const piped = cli(['parse', '-'], fs.readFileSync(file));
    expect(piped.stdout).toBe(fast.stdout.replaceAll(JSON.stringify(file), '"<stdin>"'));
  });

  it('ftrace: setup_cmd lines expand to the command and its details', () => {
    const r = cli(['parse', path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt')]);
    expect(r.code).toBe(0);
    const first = JSON.parse(r.stdout.split('\n')[0]!) as { kind: string[]; fields: { cmd: string } };
    expect(first.kind).toEqual(['cmd.submit', 'cmd.identify']);
    expect(r.stderr).toMatch(/202 events \(ftrace\), 0 malformed, 12 other lines/);
  });

  it('serial logs: the proof lines of each boot', () => {
    const r = cli(['parse', path.join(EXAMPLES, 'serial', 'qemu-cloud-shapes.serial.txt')]);
    expect(r.code).toBe(0);
    const kinds = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { kind: string; phrase?: string }).phrase);
    expect(kinds).toEqual(['backend selection', 'cloud shape classification', 'cloud shape classification']);
  });

  it('a malformed line is located and makes the exit code 1', () => {
    const r = cli(['parse', '-'], 'pci_nvme_pci_reset PCI Function Level Reset\npci_nvme_mmio_read addr 0xg size 4\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/<stdin>:2:27: pci_nvme_mmio_read: expected a hexadecimal digit/);
  });
});
