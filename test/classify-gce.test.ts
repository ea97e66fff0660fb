import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyFile, loadClassifier } from '../src/classify/classify.js';
import { classifyReport } from '../src/cli/commands/classify.js';
import { UserError } from '../src/util/errors.js';
import { ROOT, cli, tmpdir } from './helpers.js';

const EV = path.join(ROOT, 'examples', 'evidence');
const MATRIX = path.join(EV, 'gce-probed-2026-05-24.yaml');

describe('the four GCE shapes probed on 2026-05-24 (seed 004)', () => {
  const r = classifyFile(MATRIX);

  it('all classify as the labeled bounce-buffer; only the SEV one is forced', () => {
    expect(r.rows.map((x) => [x.id, x.derivation.backend, x.derivation.forced, x.derivation.decidedBy])).toEqual([
      ['gce-n1-standard-1', 'bounce-buffer', false, 'iommu-disabled-swiotlb'],
      ['gce-e2-small', 'bounce-buffer', false, 'iommu-disabled-swiotlb'],
      ['gce-c3-standard-4', 'bounce-buffer', false, 'iommu-disabled-swiotlb'],
      ['gce-n2d-standard-2-confidential', 'bounce-buffer', true, 'memory-encryption-forces-bounce'],
    ]);
    expect(r.findings).toEqual([]);
  });

  it('each row agrees with its raw probe, and its claims with the evidence', () => {
    for (const row of r.rows) {
      expect(row.evidence.conflicts, row.id).toEqual([]);
      expect(row.evidence.probe, row.id).toBeDefined();
      expect(row.claims.map((c) => c.verdict)).toEqual(['agrees', 'agrees']);
    }
  });

  it("reads the seed's verbatim kernel evidence from the probes", () => {
    for (const row of r.rows) {
      const f = row.derivation.facts;
      expect(f['kernel.iommu'], row.id).toBe('disabled');
      expect(f['cmdline.iommu_off'], row.id).toBe(true);
      expect(f.swiotlb, row.id).toBe('active');
      expect(f['iommu.groups'], row.id).toBe(0);
      expect([f['acpi.dmar'], f['acpi.ivrs'], f['acpi.iort']], row.id).toEqual(['absent', 'absent', 'absent']);
      expect(f['surfaces.dma_capable'], row.id).toBe(2);
    }
    const sev = r.rows[3]!.derivation.facts;
    expect(sev.mem_encrypt).toBe('active');
    expect(sev.mem_encrypt_kind).toBe('amd-sev');
    expect(sev.swiotlb_mb).toBe(512);
    expect(r.rows[0]!.derivation.facts.mem_encrypt).toBeUndefined();
  });

  it('the chain shows the fail-closed rules in order: notes, then each select step until one decides', () => {
    const chain = r.rows[2]!.derivation.chain;
    expect(chain.map((e) => `${e.step}:${e.outcome}`)).toEqual([
      'surface-is-not-safety:noted',
      'provider-isolation-is-policy:noted',
      'contradictory-observations:not-matched',
      'nothing-observed:not-matched',
      'memory-encryption-forces-bounce:not-matched',
      'verified-guest-remapping:not-matched',
      'iommu-disabled-swiotlb:selected',
    ]);
    expect(chain[5]!.atoms[0]).toMatch(/✗ acpi.remapping_table == present \(observed "absent"\)/);
  });

  it.each(['gce-n1-standard-1', 'gce-e2-small', 'gce-c3-standard-4', 'gce-n2d-standard-2-confidential'])('the raw probe %s.probe.txt alone classifies the same', (id) => {
    const p = classifyFile(path.join(EV, `${id}.probe.txt`));
    expect(p.input).toBe('probe');
    expect(p.rows).toHaveLength(1);
    expect(p.rows[0]!.derivation.backend).toBe('bounce-buffer');
    expect(p.rows[0]!.derivation.forced).toBe(id.endsWith('confidential'));
    const probe = p.rows[0]!.evidence.probe!;
    expect(probe.meta.date).toBe('2026-05-24');
    expect(probe.sections.map((s) => s.parsedAs)).toEqual(expect.arrayContaining(['lspci', 'iommu-groups', 'acpi-tables', 'kernel-log', 'cmdline', 'lsblk']));
    if (id.startsWith('gce-c3') || id.startsWith('gce-n2d')) {
      expect(probe.devices.find((d) => d.bdf === '0000:00:05.0')).toMatchObject({ classCode: '0108', vendor: '1ae0', device: '001f', driver: 'nvme' });
      expect(probe.blockDevices[0]).toMatchObject({ name: 'nvme0n1', tran: 'nvme', model: 'nvme_card-pd' });
      expect(probe.nvme.map((n) => n.node)).toEqual(['/dev/nvme0n1']);
    } else {
      expect(probe.devices.find((d) => d.vendor === '1af4' && d.device === '1004')?.driver).toBe('virtio-pci');
    }
  });
});

describe('fail-closed classification', () => {
  const c = loadClassifier();
  it('documentation-only seed rows derive Unsupported and make no claim', () => {
    const r = classifyFile(path.join(EV, 'seed-docs-only.yaml'), c);
    expect(r.rows.map((x) => [x.id, x.derivation.backend, x.derivation.decidedBy])).toEqual([
      ['aws-nitro-ena-nvme', 'unsupported', 'nothing-observed'],
      ['azure-accelerated-networking', 'unsupported', 'nothing-observed'],
    ]);
    expect(r.findings).toEqual([]);
  });

  it('direct remapping claimed from provider-side isolation alone is rejected, with the reason', () => {
    const r = classifyFile(path.join(ROOT, 'conformance/dma-classification/bad-direct-from-provider-isolation.evidence.yaml'), c);
    expect(r.findings.map((f) => [f.rule, f.line])).toEqual([
      ['dma-evidence-claim-exceeds-evidence', 21],
      ['dma-evidence-claim-exceeds-evidence', 22],
    ]);
    expect(r.findings[0]!.message).toContain('provider-side isolation is a support-policy assumption, not proof');
    expect(r.findings[0]!.message).toContain('a DMA-capable surface is not a safety claim');
  });

  it('only discovered, programmed and validated guest remapping derives direct remapping; any missing piece fails closed', () => {
    const file = path.join(ROOT, 'conformance/dma-classification/ok-viommu-direct.evidence.yaml');
    expect(classifyFile(file, c).rows[0]!.derivation.backend).toBe('direct-remapping');
    const text = fs.readFileSync(file, 'utf8');
    for (const key of ['discovered', 'programmed', 'translation_validated', 'fault_validated', 'invalidation_validated']) {
      const dir = tmpdir();
      const f = path.join(dir, 'row.yaml');
      fs.writeFileSync(f, text.replace(`${key}: true`, `${key}: false`).replace('$schema=../../specs', `$schema=${path.relative(dir, path.join(ROOT, 'specs'))}`));
      const r = classifyFile(f, c);
      expect(r.rows[0]!.derivation.backend, key).toBe('unsupported');
      expect(r.findings.map((x) => x.rule), key).toEqual(['dma-evidence-claim-exceeds-evidence', 'dma-evidence-claim-exceeds-evidence']);
    }
  });
});

describe('nvmeproof classify', () => {
  it('renders the matrix as Markdown with the decision chains', () => {
    const { text, exitCode } = classifyReport([MATRIX], 'markdown');
    expect(exitCode).toBe(0);
    expect(text).toContain('| Provider | Region/zone | Instance type | Image/kernel | Source | Retrieval date | Visible devices | IOMMU tables/groups | Provider-side isolation notes | Guest-programmable remapping | Runtime backend inferred (derived) | Support-policy status |');
    expect(text.match(/\*\*Labeled bounce-buffer( \(forced\))?\*\*/g)).toHaveLength(4);
    expect(text).toContain('**Labeled bounce-buffer (forced)**');
    expect(text).toContain('#### `gce-n2d-standard-2-confidential` → Labeled bounce-buffer (forced) (decided by `memory-encryption-forces-bounce`)');
    expect(text).toContain('software IO TLB: Memory encryption is active and system is using DMA bounce buffers');
  });

  it('exits 1 and names the rule when a row claims more than its evidence; 0 otherwise; 2 on bad input', () => {
    const bad = cli(['classify', 'conformance/dma-classification/bad-direct-on-gce.evidence.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('dma-evidence-claim-exceeds-evidence');
    const ok = cli(['classify', '--format', 'json', 'examples/evidence/gce-probed-2026-05-24.yaml']);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as { rows: { backend: string }[] }[])[0]!.rows.map((r) => r.backend)).toEqual(Array(4).fill('bounce-buffer'));
    const probe = cli(['classify', 'examples/evidence/gce-n2d-standard-2-confidential.probe.txt']);
    expect(probe.code).toBe(0);
    expect(probe.stdout).toContain('derived backend: Labeled bounce-buffer (forced)');
    const missing = cli(['classify', 'no/such/file.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
  });

  it('a probe capture that does not parse is a located usage error', () => {
    const dir = tmpdir();
    const f = path.join(dir, 'broken.probe.txt');
    fs.writeFileSync(f, '# provider: gcp\n$ lspci -nnk -D\n0000:00:05.0 NVMe [0108] Google [1ae0:001f]\n');
    expect(() => classifyFile(f)).toThrow(UserError);
    try {
      classifyFile(f);
    } catch (e) {
      expect((e as UserError).details[0]).toMatchObject({ line: 3 });
    }
    const r = cli(['classify', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.probe\.txt:3:\d+: output of `lspci -nnk -D` does not parse/);
  });
});
