import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadDiskContract } from '../src/disk/contract.js';
import { loadCatalog } from '../src/rules/catalog.js';
import { loadSpecFile } from '../src/specs/load.js';
import { specPath } from '../src/util/paths.js';
import { ROOT } from './helpers.js';

/**
 * The disk contract (specs/disk/contract.yaml) against the seed it restates and the NVMe specs it maps onto, and
 * the disk rule family (specs/rules/disk.yaml) against the contract and its conformance cases.
 */

const contract = loadDiskContract();
const catalog = loadCatalog();
const statusCodes = loadSpecFile<{ codes: { sct: number; sc: number; name: string }[] }>(specPath('nvme', 'status-codes.yaml'), 'nvme-status-codes').data.codes;
const diskRules = catalog.rules.filter((r) => r.meta.family === 'disk');

describe('disk contract', () => {
  it('maps every error of the seed (all DiskError variants, every medium error sub-kind) to a status', () => {
    const seed = contract.spec.errors.map((e) => e.seed);
    for (const v of ['IllegalBlock', 'InvalidInput', 'Io', 'MemoryAccess', 'ReadOnly', 'ReservationConflict', 'UnsupportedEject', 'AbortDueToPreemptAndAbort']) {
      expect(seed, v).toContain(`DiskError::${v}`);
    }
    for (const m of ['UnrecoveredReadError', 'WriteFault', 'GuardCheckFailed', 'ApplicationTagCheckFailed', 'ReferenceTagCheckFailed']) {
      expect(seed, m).toContain(`DiskError::MediumError(${m})`);
    }
  });

  it('names every status as specs/nvme/status-codes.yaml does (same SCT, SC and name)', () => {
    for (const e of contract.spec.errors) {
      for (const s of [e.status, ...(e.also ?? [])]) {
        const def = statusCodes.find((c) => c.sct === s.sct && c.sc === s.sc);
        expect(def, `${e.id}: SCT ${s.sct} SC 0x${s.sc.toString(16)}`).toBeDefined();
        expect(def!.name, `${e.id}`).toBe(s.name);
      }
    }
  });

  it('reports the statuses a storage frontend uses for each error', () => {
    const st = (id: string): number => {
      const e = contract.spec.errors.find((x) => x.id === id)!;
      return (e.status.sct << 8) | e.status.sc;
    };
    expect(st('illegal-block')).toBe(0x080);
    expect(st('read-only')).toBe(0x182);
    expect(st('io')).toBe(0x004);
    expect(st('memory-access')).toBe(0x004);
    expect(st('medium-unrecovered-read')).toBe(0x281);
    expect(st('medium-write-fault')).toBe(0x280);
    expect(st('medium-guard-check')).toBe(0x282);
    expect(st('medium-application-tag-check')).toBe(0x283);
    expect(st('medium-reference-tag-check')).toBe(0x284);
    expect(st('reservation-conflict')).toBe(0x083);
    expect(st('abort-preempt')).toBe(0x01b);
    expect(st('invalid-input')).toBe(0x002);
    expect(st('unsupported-eject')).toBe(0x001);
  });

  it('classes statuses so a completion can be judged against its cause (DNR and More bits ignored)', () => {
    expect(contract.inClass(0x4080, 'out-of-range')).toBe(true);
    expect(contract.inClass(0x4182, 'read-only')).toBe(true);
    expect(contract.inClass(0x020, 'read-only')).toBe(true);
    // QEMU 7.2's nvme_aio_err statuses are all of the I/O error class
    for (const s of [0x4281, 0x4280, 0x0006]) expect(contract.inClass(s, 'io-error'), s.toString(16)).toBe(true);
    expect(contract.inClass(0x4002, 'io-error')).toBe(false);
    expect(contract.inClass(0x0, 'out-of-range')).toBe(false);
    expect(contract.statusClasses.get(0x004)).toEqual(['io-error', 'memory-access']);
    expect(contract.classText.get('read-only')).toBe('ATTEMPTED_WRITE_TO_READ_ONLY_RANGE (0x182) or NAMESPACE_IS_WRITE_PROTECTED (0x020)');
  });

  it('gives every unmap behaviour what a read after deallocate may return', () => {
    expect(Object.fromEntries(contract.spec.unmap_behaviours.map((u) => [u.id, u.read_after_deallocate]))).toEqual({ zeroes: 'zeroes', unspecified: 'any', ignored: 'unchanged' });
  });

  it('names, in checked_by, only rules of the catalog and checks of the contract', () => {
    const checks = new Set(contract.checks.map((c) => c.id));
    for (const c of [...contract.spec.geometry, ...contract.spec.io]) {
      for (const id of c.checked_by ?? []) expect(catalog.byId.has(id) || checks.has(id), `${c.id}: ${id}`).toBe(true);
    }
    // and every disk rule and descriptor check is named by a clause
    const named = new Set([...contract.spec.geometry, ...contract.spec.io].flatMap((c) => c.checked_by ?? []));
    for (const r of diskRules) expect(named, r.meta.id).toContain(r.meta.id);
  });
});

describe('disk rule family', () => {
  it('has the rules of the contract, each citing the seed and an NVMe section', () => {
    expect(diskRules.map((r) => r.meta.id).sort()).toEqual(
      [
        'disk-capacity-change-notified',
        'disk-deallocated-read-zeroes',
        'disk-error-status-class',
        'disk-geometry-valid',
        'disk-io-error',
        'disk-lba-range',
        'disk-lba-size-stable',
        'disk-out-of-range-status',
        'disk-read-only-status',
        'disk-read-only-write',
      ].sort(),
    );
    for (const r of diskRules) {
      expect(r.meta.section, r.meta.id).toMatch(/seed 003/);
      expect(r.meta.section, r.meta.id).toMatch(/NVM(e Base 2\.0| Command Set 1\.0)/);
      expect(r.meta.fix, r.meta.id).toBeTruthy();
    }
  });

  it('owns the out-of-range cause alone: QEMU err_invalid_lba_range and status 0x080 belong to disk-lba-range', () => {
    expect(catalog.byId.has('cmd-lba-range')).toBe(false);
    expect(catalog.byDeviceEvent.get('pci_nvme_err_invalid_lba_range')?.meta.id).toBe('disk-lba-range');
    expect(catalog.byStatus.get(0x080)?.meta.id).toBe('disk-lba-range');
    expect(catalog.byDeviceEvent.get('pci_nvme_err_aio')?.meta.id).toBe('disk-io-error');
    expect(catalog.byStatus.get(0x182)?.meta.id).toBe('disk-read-only-write');
    for (const s of [0x006, 0x280, 0x281, 0x282, 0x283, 0x284]) expect(catalog.byStatus.get(s)?.meta.id).toBe('disk-io-error');
  });

  it('has a conformance/disk/<rule-id>/ directory with conforming and violating cases for every rule', () => {
    for (const r of diskRules) {
      const file = path.join(ROOT, 'conformance', 'disk', r.meta.id, 'cases.yaml');
      expect(fs.existsSync(file), file).toBe(true);
      const doc = parse(fs.readFileSync(file, 'utf8')) as { rule: string; cases: { verdict: string; file: string; expect: { rule: string }[] }[] };
      expect(doc.rule).toBe(r.meta.id);
      expect(doc.cases.some((c) => c.verdict === 'conforming'), `${r.meta.id}: conforming case`).toBe(true);
      expect(doc.cases.some((c) => c.verdict === 'violating' && c.expect.some((e) => e.rule === r.meta.id)), `${r.meta.id}: violating case`).toBe(true);
      for (const c of doc.cases) expect(fs.existsSync(path.join(path.dirname(file), c.file)), c.file).toBe(true);
    }
  });
});
