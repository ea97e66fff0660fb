import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';
import { cli, EXAMPLES, tmpdir } from './helpers.js';

/** Bad input gets one clear line and exit 2, never a stack trace; a bad line never hides the rest. */
function findings(json: string): { rule: string; line: number; col?: number }[] {
  const r = JSON.parse(json) as { files: { findings: { rule: string; line: number; col?: number }[] }[] };
  return r.files.flatMap((f) => f.findings.map((x) => ({ rule: x.rule, line: x.line, col: x.col })));
}

function noStack(s: string): void {
  expect(s).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);
  expect(s).not.toMatch(/internal error/);
}

describe('nvmeproof on bad input', () => {
  const dir = tmpdir();

  it('--help works right after install', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: nvmeproof/);
    expect(r.stdout).toMatch(/check/);
  });

  it('missing file', () => {
    const r = cli(['check', path.join(dir, 'nope.log')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.log: cannot read trace: no such file/);
    noStack(r.stderr);
  });

  it('a directory', () => {
    const r = cli(['check', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a directory/);
    noStack(r.stderr);
  });

  it('empty file', () => {
    const f = path.join(dir, 'empty.log');
    fs.writeFileSync(f, '');
    const r = cli(['check', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/empty\.log: empty file/);
    noStack(r.stderr);
  });

  it('binary junk', () => {
    const f = path.join(dir, 'junk.bin');
    fs.writeFileSync(f, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)));
    const r = cli(['check', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/junk\.bin: binary data/);
    noStack(r.stderr);
  });

  it('a text file with no NVMe events', () => {
    const f = path.join(dir, 'prose.txt');
    fs.writeFileSync(f, 'hello\nthis is not a trace\n');
    const r = cli(['check', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/prose\.txt: no NVMe events found/);
    noStack(r.stderr);
  });

  it('a malformed line is located and the rest of the file is still checked', () => {
    const src = fs.readFileSync(path.join(EXAMPLES, 'linux-boot-smp1.log'), 'utf8').split('\n');
    src[9] = 'pci_nvme_mmio_read addr 0x1q size 4';
    // and a real violation later: misalign the ASQ Linux programs
    const asq = src.findIndex((l, i) => i > 2800 && l.startsWith('pci_nvme_mmio_write addr 0x28 '));
    src[asq] = src[asq]!.replace(/data 0x([0-9a-f]+)000 /, 'data 0x$1010 ');
    const f = path.join(dir, 'mixed-bad.log');
    fs.writeFileSync(f, src.join('\n'));
    const r = cli(['check', f, '--format', 'json']);
    expect(r.code).toBe(1);
    const found = findings(r.stdout);
    expect(found).toContainEqual({ rule: 'trace-malformed-line', line: 10, col: 'pci_nvme_mmio_read addr 0x1'.length + 1 });
    expect(found).toContainEqual({ rule: 'lifecycle-asq-aligned', line: asq + 1, col: undefined });
    const t = cli(['check', f]);
    expect(t.stdout).toMatch(new RegExp(`10:${'pci_nvme_mmio_read addr 0x1'.length + 1}  error    trace-malformed-line`));
  });

  it('truncated trace (last line cut mid-event) is reported, earlier lines checked', () => {
    const text = fs.readFileSync(path.join(EXAMPLES, 'linux-boot-smp1.log'), 'utf8');
    const cut = text.slice(0, text.length - 20);
    const f = path.join(dir, 'truncated.log');
    fs.writeFileSync(f, cut);
    const r = cli(['check', f, '--format', 'json']);
    const lines = cut.split('\n').length;
    expect(findings(r.stdout).filter((x) => x.line === lines).map((x) => x.rule)).toEqual(['trace-malformed-line']);
    expect(r.code).toBe(1);
  });

  it('gzip input and standard input', () => {
    const raw = fs.readFileSync(path.join(EXAMPLES, 'linux-boot-smp2.log'));
    const gz = path.join(dir, 'trace.log.gz');
    fs.writeFileSync(gz, zlib.gzipSync(raw));
    const a = cli(['check', gz]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/trace\.log\.gz +\(qemu, 3,?355 lines, conforming\)/);
    const b = cli(['check', '-'], raw);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/<stdin>/);
    const c = cli(['check', '-'], zlib.gzipSync(raw));
    expect(c.code).toBe(0);
  });

  it('a named pipe (or `check <(qemu ...)`) is read once, from its first line', () => {
    // The lines the format was told from cannot be read again: a second read from the start would begin
    // wherever the writer has got to (before this was fixed, 2,550 lines in).
    const trace = path.join(EXAMPLES, 'linux-mixed-io.log');
    const lines = fs.readFileSync(trace, 'utf8').split('\n').length - 1;
    const pipe = path.join(dir, 'trace.fifo');
    expect(spawnSync('mkfifo', [pipe]).status).toBe(0);
    const through = (args: string[]): ReturnType<typeof cli> => {
      const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', trace, pipe], { stdio: 'ignore' });
      try {
        return cli([...args, pipe], undefined, 20_000);
      } finally {
        writer.kill();
      }
    };
    const checked = through(['check', '--format', 'json']);
    expect(checked.code, checked.stderr).toBe(0);
    expect((JSON.parse(checked.stdout) as { files: { lines: number; findings: unknown[] }[] }).files[0]).toMatchObject({ lines, findings: [] });
    const parsed = through(['parse', '--summary-only']);
    expect(parsed.code, parsed.stderr).toBe(0);
    expect(parsed.stderr).toMatch(new RegExp(`trace\\.fifo: ${lines} lines, ${lines} events \\(qemu\\), 0 malformed`));
  });

  it('corrupt gzip', () => {
    const f = path.join(dir, 'bad.gz');
    fs.writeFileSync(f, Buffer.concat([zlib.gzipSync(Buffer.from('pci_nvme_pci_reset PCI Function Level Reset\n'.repeat(1000))).subarray(0, 60)]));
    const r = cli(['check', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.gz: corrupt or truncated gzip data/);
    noStack(r.stderr);
  });

  it('bad usage exits 2', () => {
    expect(cli(['check']).code).toBe(2);
    expect(cli(['check', '--fail-on', 'sometimes', 'x']).code).toBe(2);
    expect(cli(['frobnicate']).code).toBe(2);
  });

  it('an unknown shape or invalid user rules file is a located error', () => {
    const r = cli(['check', '--shape', 'no-such-shape', path.join(EXAMPLES, 'linux-boot-smp1.log')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-such-shape: no such shape/);
    const rulesDir = path.join(dir, 'rules');
    fs.mkdirSync(rulesDir, { recursive: true });
    fs.writeFileSync(
      path.join(rulesDir, 'mine.yaml'),
      '# yaml-language-server: $schema=x\nkind: rules\nfamily: mine\nrules:\n  - id: mine-thing\n    severity: error\n    title: A thing\n    message: bad thing\n    section: "1.2"\n    explanation: an explanation here\n    given: doorbell\n    then: { check: assert, that: "value <" }\n',
    );
    const u = cli(['check', '--rules', rulesDir, path.join(EXAMPLES, 'linux-boot-smp1.log')]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/mine\.yaml:12:\d+: mine-thing: expression syntax error at column 8/);
    noStack(u.stderr);
  });
});

describe('serial logs', () => {
  it('a real serial capture with no proof line is not passed silently: exit 2, nothing was checked', () => {
    const r = cli(['check', path.join(EXAMPLES, 'linux-boot-smp1.serial.txt')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/linux-boot-smp1\.serial\.txt: nothing was checked: no proof lines found/);
  });

  it('a serial log with proof lines checks clean', () => {
    const r = cli(['check', path.join(EXAMPLES, 'serial', 'qemu-cloud-shapes.serial.txt')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/serial, \d+ lines, conforming/);
  });
});
