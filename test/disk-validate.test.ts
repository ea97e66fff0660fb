import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { validateDiskFile, validateDiskText, loadNamespaceFile } from '../src/disk/descriptor.js';
import { UserError } from '../src/util/errors.js';
import { EXAMPLES, cli, tmpdir } from './helpers.js';

/** `nvmeproof disk validate`: disk descriptions and namespace lists against the disk contract, every problem located. */

const ex = (f: string): string => path.join(EXAMPLES, 'disk', f);
const at = (file: string): string[] =>
  validateDiskFile(ex(file))
    .problems.map((p) => `${p.line}:${p.col} ${p.severity} ${p.check}`)
    .sort();

describe('disk descriptions (examples/disk)', () => {
  for (const f of ['good-file-disk.yaml', 'good-layered.yaml', 'good-striped.yaml', 'qemu-64mib.namespaces.yaml', 'qemu-128mib.namespaces.yaml']) {
    it(`${f} conforms`, () => {
      const v = validateDiskFile(ex(f));
      expect(v.wellFormed).toBe(true);
      expect(v.problems).toEqual([]);
      expect(v.evaluated).toBeGreaterThan(0);
    });
  }

  it('bad-geometry.yaml: every geometry and unmap violation, at its value', () => {
    expect(at('bad-geometry.yaml')).toEqual(
      [
        '7:24 error geometry.logical-sector-size',
        '8:25 error geometry.physical-sector-size',
        '9:17 error geometry.sector-count',
        '10:12 error geometry.disk-id',
        '13:10 warning io.read-only-unmap',
        '14:26 error io.optimal-unmap',
        '16:18 error geometry.resize-notified',
      ].sort(),
    );
  });

  it('bad-striped.yaml: a composite that claims more than its members give', () => {
    expect(at('bad-striped.yaml')).toEqual(
      [
        '9:24 error compose.sector-size',
        '10:17 error compose.sector-count',
        '11:18 error compose.fua',
        '12:14 error compose.read-only',
        '13:10 error compose.unmap-zeroes',
        '14:3 error compose.stripe-chunk',
      ].sort(),
    );
    const msg = validateDiskFile(ex('bad-striped.yaml')).problems.find((p) => p.check === 'compose.sector-count')!.message;
    expect(msg).toBe("sector count 1000000 does not match what the striped disk's members provide (524288)");
  });

  it('bad-namespaces.yaml: LBA size, empty namespace, duplicate nsid', () => {
    expect(at('bad-namespaces.yaml')).toEqual(['6:15 error ns.lba-size', '10:13 error ns.blocks', '11:11 error ns.nsid-unique', '14:12 warning ns.read-only-unmap'].sort());
  });

  it('a layered disk is writable through its top layer, read-only when its top layer is', () => {
    const text = (topRo: boolean): string => `# yaml-language-server: $schema=x
kind: disk
disk:
  read_only: false
  layers:
    - { logical_sector_size: 512, sector_count: 100, read_only: ${topRo} }
    - { logical_sector_size: 512, sector_count: 100, read_only: true }
`;
    expect(validateDiskText('l.yaml', text(false)).problems).toEqual([]);
    expect(validateDiskText('l.yaml', text(true)).problems.map((p) => `${p.line} ${p.check}`)).toEqual(['4 compose.read-only']);
  });

  it('a decorator passes its inner disk through: resize notification must be delegated', () => {
    const text = `# yaml-language-server: $schema=x
kind: disk
disk:
  type: delay
  resize_notify: false
  inner: { type: blockdevice, logical_sector_size: 4096, sector_count: 1000, resizable: true, resize_notify: true }
`;
    const v = validateDiskText('d.yaml', text);
    expect(v.problems.map((p) => `${p.line}:${p.col} ${p.check}`)).toEqual(['5:18 geometry.resize-notified']);
    // the namespace it backs takes the inner disk's geometry
    expect(v.namespaces).toEqual([{ nsid: 1, lba_size: 4096, blocks: 1000 }]);
  });

  it('a file that is not a description is reported with the schema problem, located', () => {
    const v = validateDiskText('x.yaml', '# yaml-language-server: $schema=x\nkind: disk\ndisk:\n  logical_sector_size: 512\n  sectors: 8\n');
    expect(v.wellFormed).toBe(false);
    expect(v.problems).toEqual([expect.objectContaining({ line: 5, col: 3, check: 'schema', message: "unknown key 'sectors' at /disk" })]);
    const other = validateDiskText('y.yaml', '# yaml-language-server: $schema=x\nkind: shape\nid: x\ntitle: y\n');
    expect(other.wellFormed).toBe(false);
    expect(other.problems[0]!.message).toMatch(/expected a disk description/);
  });
});

describe('--namespace files', () => {
  it('a disk description backs the namespace it names (nsid 1 by default)', () => {
    expect(loadNamespaceFile(ex('good-file-disk.yaml'))).toEqual([{ nsid: 1, lba_size: 512, blocks: 2097152, read_only: false, unmap: 'zeroes', source: '--namespace good-file-disk.yaml' }]);
  });
  it('an invalid one is a UserError listing every located error (warnings do not stop it)', () => {
    let err: unknown;
    try {
      loadNamespaceFile(ex('bad-namespaces.yaml'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).details.map((d) => `${d.line}:${d.col}`)).toEqual(['6:15', '10:13', '11:11']);
  });
});

describe('nvmeproof disk validate', () => {
  it('exits 0 on good descriptions, 1 with file:line:col violations, 2 on a malformed file', () => {
    const ok = cli(['disk', 'validate', ex('good-file-disk.yaml'), ex('good-striped.yaml')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('');
    expect(ok.stderr).toMatch(/good-file-disk\.yaml: conforms to the disk contract \(\d+ checks\)/);
    const bad = cli(['disk', 'validate', ex('bad-geometry.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/bad-geometry\.yaml:7:24: error geometry\.logical-sector-size: logical sector size 520 is not a power of two of at least 512 bytes \[seed 003/);
    expect(bad.stdout.trim().split('\n')).toHaveLength(7);
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, 'broken.yaml'), '# yaml-language-server: $schema=x\nkind: disk\ndisk: [1, 2\n');
    const broken = cli(['disk', 'validate', path.join(dir, 'broken.yaml')]);
    expect(broken.code).toBe(2);
    expect(broken.stdout).toMatch(/broken\.yaml:\d+:\d+: error schema: YAML/);
  });

  it('--fail-on warning counts warnings; --format json gives every problem', () => {
    const warnOnly = tmpdir();
    fs.writeFileSync(path.join(warnOnly, 'ro.yaml'), '# yaml-language-server: $schema=x\nkind: disk-namespaces\nnamespaces:\n  - { nsid: 1, lba_size: 512, read_only: true, unmap: zeroes }\n');
    expect(cli(['disk', 'validate', path.join(warnOnly, 'ro.yaml')]).code).toBe(0);
    expect(cli(['disk', 'validate', '--fail-on', 'warning', path.join(warnOnly, 'ro.yaml')]).code).toBe(1);
    const j = cli(['disk', 'validate', '--format', 'json', path.join(EXAMPLES, 'disk')]);
    expect(j.code).toBe(1);
    const out = JSON.parse(j.stdout) as { files: { file: string; problems: unknown[] }[]; summary: { errors: number; warnings: number } };
    expect(out.files.length).toBe(fs.readdirSync(path.join(EXAMPLES, 'disk')).filter((f) => f.endsWith('.yaml')).length);
    expect(out.summary).toEqual({ files: out.files.length, errors: 15, warnings: 2 });
  });

  it('a missing file is a usage error (exit 2)', () => {
    const r = cli(['disk', 'validate', 'no/such/disk.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such file or directory/);
  });

  it('disk contract prints the error-to-status map', () => {
    const r = cli(['disk', 'contract']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/DiskError::IllegalBlock\s+out-of-range\s+LBA_OUT_OF_RANGE 0x080/);
    expect(r.stdout).toMatch(/DiskError::ReadOnly\s+read-only\s+ATTEMPTED_WRITE_TO_READ_ONLY_RANGE 0x182/);
  });
});
