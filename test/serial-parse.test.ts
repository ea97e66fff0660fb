import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BootTracker, parseSerialLine, knownProofPrefixes, type SerialLine } from '../src/parse/serial.js';
import { ROOT } from './helpers.js';
import { SERIAL_FIXTURES, checkSerialFile } from './proof-helpers.js';

const CLS =
  'nvme: cloud shape classification cloud_shape=aws-nitro-ebs pci_vendor=0x1b36 pci_device_id=0x0010 class=0x01 subclass=0x08 prog_if=0x02';

describe('parseSerialLine', () => {
  it('reads a proof line with subsystem, phrase, fields and 1-based key columns', () => {
    const r = parseSerialLine(CLS);
    expect(r.type).toBe('proof');
    if (r.type !== 'proof') return;
    expect(r.subsystem).toBe('nvme');
    expect(r.phrase).toBe('cloud shape classification');
    expect(r.fields.map((f) => [f.key, f.value])).toEqual([
      ['cloud_shape', 'aws-nitro-ebs'],
      ['pci_vendor', '0x1b36'],
      ['pci_device_id', '0x0010'],
      ['class', '0x01'],
      ['subclass', '0x08'],
      ['prog_if', '0x02'],
    ]);
    for (const f of r.fields) expect(CLS.slice(f.col - 1, f.col - 1 + f.key.length)).toBe(f.key);
    expect(r.timestamp).toBeUndefined();
  });

  it('takes the timestamp, ANSI noise and a printk level in its stride; columns stay those of the raw line', () => {
    const raw = '\x1b[0m<6>[   12.345678] dma: backend selection backend=bounce-buffer iommu=absent\x1b[0m  ';
    const r = parseSerialLine(raw);
    expect(r.type).toBe('proof');
    if (r.type !== 'proof') return;
    expect(r.timestamp).toBeCloseTo(12.345678);
    const iommu = r.fields.find((f) => f.key === 'iommu')!;
    expect(raw.slice(iommu.col - 1).startsWith('iommu=absent')).toBe(true);
    expect(raw.slice(iommu.valueCol - 1).startsWith('absent')).toBe(true);
  });

  it('keeps only what follows a console carriage-return overwrite, with columns in the original line', () => {
    const raw = 'Loading...\rdma: backend selection backend=bounce-buffer\r';
    const r = parseSerialLine(raw);
    expect(r.type).toBe('proof');
    if (r.type !== 'proof') return;
    expect(raw.slice(r.fields[0]!.col - 1).startsWith('backend=')).toBe(true);
  });

  it('accepts quoted values', () => {
    const r = parseSerialLine('dma: backend selection backend="bounce-buffer" iommu=absent');
    expect(r.type === 'proof' && r.fields[0]!.value).toBe('bounce-buffer');
  });

  it('a known prefix with a broken key=value list is a located diagnostic, not an exception', () => {
    const raw = '[    0.5] nvme: cloud shape classification cloud_shape=aws-nitro-ebs pci_vendor 0x1b36';
    const r = parseSerialLine(raw);
    expect(r.type).toBe('malformed');
    if (r.type !== 'malformed') return;
    expect(r.prefix).toBe('nvme: cloud shape classification');
    expect(r.col).toBe(raw.indexOf(' 0x1b36') + 1);
    expect(r.expected).toContain('"="');
    expect(r.timestamp).toBeCloseTo(0.5);
    for (const bad of ['dma: backend selection', 'dma: backend selection backend=', 'dma: backend selection backend=a  =b', 'dma: backend selection Backend=x']) {
      const m = parseSerialLine(bad);
      expect(m.type, bad).toBe('malformed');
    }
  });

  it('boot noise is noise, including kernel lines shaped almost like proof lines', () => {
    const noise = [
      '',
      'INIT: direct write bs=512 off=4194304',
      'INIT: queue/logical_block_size=512',
      '[    0.000000] Command line: console=ttyS0 quiet panic=-1',
      '[    0.402114] clocksource: tsc-early: mask: 0xffffffffffffffff max_cycles: 0x1, max_idle_ns: 440795202767 ns',
      '[    0.512877] nvme nvme0: pci function 0000:00:04.0',
      'zeroout off=2097152 len=8192 rc=0 ok',
      'set-feature:0x0b (Async Event Configuration), value:0x000001ff, cdw12:00000000, save:0',
      'Press Ctrl-B to configure iPXE (PCI 00:03.0)...\r         \r',
    ];
    for (const n of noise) expect(parseSerialLine(n).type, JSON.stringify(n)).toBe('noise');
    const t = parseSerialLine('[    1.823294] reboot: Power down');
    expect(t).toEqual({ type: 'noise', timestamp: 1.823294 });
  });

  it('a proof-shaped line of another kind parses as a proof line (the checker ignores its kind)', () => {
    const r = parseSerialLine('cloudboot-evidence: storage bound provider=gce teardown=complete');
    expect(r.type).toBe('proof');
  });

  it('recognises boot banners', () => {
    expect(parseSerialLine('\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)')).toEqual({ type: 'boot-start', reason: 'seabios' });
    expect(parseSerialLine('[    0.000000] Linux version 6.1.0-56-cloud-amd64 (gcc-12)')).toEqual({ type: 'boot-start', reason: 'linux-version', timestamp: 0 });
  });

  it('knows the prefixes of specs/proof-lines/', () => {
    expect(knownProofPrefixes().sort()).toEqual(['dma: backend selection', 'nvme: cloud shape classification', 'nvme: live storage proof']);
  });
});

describe('BootTracker', () => {
  const feed = (lines: string[]): number[] => {
    const t = new BootTracker();
    return lines.map((l, i) => t.feed(parseSerialLine(l), i + 1).boot);
  };

  it('firmware banner then Linux is one boot; a second banner starts the next', () => {
    const boots = feed([
      'SeaBIOS (version 1.16.2)',
      'Booting from ROM..',
      '[    0.000000] Linux version 6.1.0',
      '[    0.500000] dma: backend selection backend=bounce-buffer',
      '[    1.800000] reboot: Restarting system',
      'SeaBIOS (version 1.16.2)',
      '[    0.000000] Linux version 6.1.0',
    ]);
    expect(boots).toEqual([1, 1, 1, 1, 1, 2, 2]);
  });

  it('a kernel timestamp going back to ~0 starts a new boot; small jitter does not', () => {
    const boots = feed(['[    5.000000] a', '[    4.999000] b', '[    6.100000] c', '[    0.000000] d', '[    0.100000] e']);
    expect(boots).toEqual([1, 1, 1, 2, 2]);
  });

  it('a `Linux version` line without firmware (kexec) starts a new boot', () => {
    const boots = feed(['[    0.000000] Linux version 6.1.0', '[    2.000000] kexec_core: Starting new kernel', '[    0.000000] Linux version 6.1.0']);
    expect(boots).toEqual([1, 1, 2]);
  });

  it('blank lines before the first banner do not make an empty boot', () => {
    const boots = feed(['', '', 'SeaBIOS (version 1.16.2)', '[    0.000000] Linux version 6.1.0']);
    expect(boots).toEqual([1, 1, 1, 1]);
  });
});

describe('serial corpus', () => {
  const corpus = (): string[] => {
    const files = fs.readdirSync(SERIAL_FIXTURES).map((f) => path.join(SERIAL_FIXTURES, f));
    for (const d of ['conformance/proof-lines', 'conformance/dma-classification', 'examples/serial']) {
      for (const f of fs.readdirSync(path.join(ROOT, d))) if (f.endsWith('.serial.txt')) files.push(path.join(ROOT, d, f));
    }
    return files;
  };

  it('the noise fast path and the Ohm grammar agree on every corpus line', () => {
    let n = 0;
    for (const f of corpus()) {
      const lines = fs.readFileSync(f, 'utf8').split('\n').map((l) => l.replace(/\r$/, ''));
      for (const l of lines) {
        const fast: SerialLine = parseSerialLine(l, { fastPath: true });
        const slow: SerialLine = parseSerialLine(l, { fastPath: false });
        expect(fast, `${path.basename(f)}: ${JSON.stringify(l)}`).toEqual(slow);
        n++;
      }
    }
    expect(n).toBeGreaterThan(400);
  });

  it('the fast path and Ohm also agree on thousands of mutated proof lines (seeded)', () => {
    let seed = 0x5eed;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const bases = [
      '[    0.531002] dma: backend selection backend=bounce-buffer iommu=absent direct_dma=blocked host_physical_user_visible=0',
      'nvme: cloud shape classification cloud_shape=aws-nitro-ebs pci_vendor=0x1b36 class=0x01',
      '<6>[ 12.5] nvme: live storage proof live_cloud=gce-persistent-disk io_read=completed  ',
      'audit: type=1400 audit(1700000000.123:2): apparmor="STATUS"',
      'foo: bar baz qux=1 zap=2',
      '\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)',
      '[    0.000000] Linux version 6.1.0-56-cloud-amd64 (gcc-12)',
      'Booting from ROM..\x1bc\x1b[?7l\x1b[2JLinux version 6.1.0',
      '[    1.823294] reboot: Power down',
    ];
    const junk = [' ', '  ', '=', '"', '\t', 'A', '_', '-', '.', ':', '\x1b[0m', 'x', '0', '[', ']', '\r'];
    let n = 0;
    for (let k = 0; k < 6000; k++) {
      let l = bases[rnd(bases.length)]!;
      const edits = 1 + rnd(3);
      for (let e = 0; e < edits; e++) {
        const at = rnd(l.length + 1);
        if (rnd(2)) l = l.slice(0, at) + junk[rnd(junk.length)]! + l.slice(at);
        else l = l.slice(0, at) + l.slice(at + 1 + rnd(3));
      }
      expect(parseSerialLine(l, { fastPath: true }), JSON.stringify(l)).toEqual(parseSerialLine(l, { fastPath: false }));
      n++;
    }
    expect(n).toBe(6000);
  });

  it('the real QEMU and ftrace serial captures give no error finding and say that they hold no proof line', async () => {
    const files = fs.readdirSync(SERIAL_FIXTURES);
    expect(files.sort()).toEqual(['ftrace-run.serial.txt', 'linux-boot-smp1.serial.txt', 'linux-boot-smp2.serial.txt', 'linux-mixed-io.serial.txt']);
    for (const f of files) {
      const r = await checkSerialFile(path.join(SERIAL_FIXTURES, f));
      expect(r.findings, f).toEqual([]);
      expect(r.tables, f).toEqual([]);
      expect(r.notes.some((n) => n.startsWith('no proof lines found')), f).toBe(true);
    }
  });
});
