import { describe, expect, it } from 'vitest';
import { compileCondition, ConditionError, describeAtom, type Atom } from '../src/classify/condition.js';
import { parseProbe, factsFromKernelLines } from '../src/classify/probe.js';
import { loadClassifier, deriveBackend } from '../src/classify/classify.js';

describe('evidence condition language', () => {
  it('compiles and/or/not, comparisons, lists and observation tests to closures', () => {
    const c = compileCondition('(kernel.iommu == disabled or iommu.groups == 0) and swiotlb in [active, forced] and not mem_encrypt == active');
    expect(c({ 'kernel.iommu': 'disabled', swiotlb: 'active' })).toBe(true);
    expect(c({ 'iommu.groups': 0, swiotlb: 'forced', mem_encrypt: 'inactive' })).toBe(true);
    expect(c({ 'kernel.iommu': 'enabled', 'iommu.groups': 3, swiotlb: 'active' })).toBe(false);
    expect(c({ 'kernel.iommu': 'disabled', swiotlb: 'active', mem_encrypt: 'active' })).toBe(false);
    expect(c.facts.sort()).toEqual(['iommu.groups', 'kernel.iommu', 'mem_encrypt', 'swiotlb']);
  });

  it('is fail-closed: any comparison against an unobserved fact is false, `!=` included', () => {
    expect(compileCondition('swiotlb == active')({})).toBe(false);
    expect(compileCondition('swiotlb != active')({})).toBe(false);
    expect(compileCondition('iommu.groups > 0')({})).toBe(false);
    expect(compileCondition('swiotlb is unknown')({})).toBe(true);
    expect(compileCondition('swiotlb is known')({ swiotlb: 'active' })).toBe(true);
    expect(compileCondition('remapping.discovered')({ 'remapping.discovered': true })).toBe(true);
    expect(compileCondition('true')({})).toBe(true);
  });

  it('records the atoms it looked at (negated under `not`), for the decision chain', () => {
    const t: Atom[] = [];
    compileCondition('acpi.dmar == present and not swiotlb == inactive')({ 'acpi.dmar': 'present', swiotlb: 'active' }, t);
    expect(t.map(describeAtom)).toEqual(['✓ acpi.dmar == present (observed "present")', '✓ not swiotlb == inactive (observed "active")']);
  });

  it('reports a syntax error with its offset (no eval anywhere)', () => {
    expect(() => compileCondition('a == ')).toThrow(ConditionError);
    try {
      compileCondition('kernel.iommu === x');
    } catch (e) {
      expect((e as ConditionError).offset).toBeGreaterThan(0);
    }
    expect(() => compileCondition('process.exit(1)')).toThrow(ConditionError);
  });
});

describe('probe grammar', () => {
  const c = loadClassifier();
  it('recognises IOMMU, SWIOTLB, memory-encryption and command-line kernel messages', () => {
    const r = factsFromKernelLines([
      '[    0.000000] Command line: root=/dev/sda1 ro amd_iommu=off',
      '[    0.013698] DMAR: IOMMU disabled',
      '[    0.358402] iommu: Default domain type: Translated ',
      'PCI-DMA: Using software bounce buffering for IO (SWIOTLB)',
      '[    0.587118] software IO TLB: mapped [mem 0x00000000a0000000-0x00000000c0000000] (512MB)',
      'Memory Encryption Features active: AMD SEV SEV-ES',
    ]);
    expect(r.problems).toEqual([]);
    expect(r.facts).toMatchObject({ 'cmdline.iommu_off': true, 'kernel.iommu': 'disabled', swiotlb: 'active', swiotlb_mb: 512, mem_encrypt: 'active' });
    expect(factsFromKernelLines(['DMAR: IOMMU enabled']).facts['kernel.iommu']).toBe('enabled');
    expect(factsFromKernelLines(['[ 0.1] Kernel command line: console=ttyS0']).facts['cmdline.iommu_off']).toBe(false);
  });

  it('a populated IOMMU with tables but no validation is ambiguous: Unsupported, not direct remapping', () => {
    const cap = parseProbe(
      [
        '# provider: local',
        '$ ls /sys/kernel/iommu_groups',
        '0  1  2  3',
        '$ ls /sys/firmware/acpi/tables/',
        'APIC  DMAR  DSDT  FACP',
        "$ dmesg | grep -iE 'iommu|dmar|ivrs|iort|swiotlb'",
        '[    0.1] DMAR: IOMMU enabled',
        '',
      ].join('\n'),
      'viommu.probe.txt',
      c.spec.surfaces,
    );
    expect(cap.facts).toMatchObject({ 'iommu.groups': 4, 'acpi.dmar': 'present', 'kernel.iommu': 'enabled' });
    const d = deriveBackend(c, cap.facts);
    expect(d.backend).toBe('unsupported');
    expect(d.decidedBy).toBe('fail-closed');
  });

  it('contradictory observations select Unsupported and say why', () => {
    const d = deriveBackend(c, { observed: true, 'kernel.iommu': 'enabled', 'cmdline.iommu_off': true, swiotlb: 'active', 'iommu.groups': 0 });
    expect(d.backend).toBe('unsupported');
    expect(d.decidedBy).toBe('contradictory-observations');
    expect(d.contradictions).toEqual(['the kernel reports an enabled IOMMU although the command line turned it off']);
  });

  it('memory encryption without SWIOTLB recorded active is a contradiction; with SWIOTLB unobserved it still forces bounce', () => {
    expect(deriveBackend(c, { observed: true, mem_encrypt: 'active', swiotlb: 'inactive' }).decidedBy).toBe('contradictory-observations');
    const d = deriveBackend(c, { observed: true, mem_encrypt: 'active' });
    expect([d.backend, d.forced]).toEqual(['bounce-buffer', true]);
  });

  it('unrecognised commands are kept and noted, not errors', () => {
    const cap = parseProbe('$ uname -r\n6.1.0-47-cloud-amd64\n', 'x.txt', c.spec.surfaces);
    expect(cap.sections).toEqual([{ command: 'uname -r', line: 1, parsedAs: 'unrecognised' }]);
    expect(cap.notes[0]).toContain('not a command of the probe protocol');
  });
});
