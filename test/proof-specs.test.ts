import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProofCatalog, loadProofRules, loadProofKinds, loadClassifiedShapes, PROOF_RULE_FILES } from '../src/proof/catalog.js';
import { specPath } from '../src/util/paths.js';
import { proofLineReport } from '../src/cli/commands/proof.js';
import { UserError } from '../src/util/errors.js';
import { validateSpecDir } from '../src/specs/load.js';
import { ROOT, tmpdir } from './helpers.js';

/** A proof rule file in a fresh directory: the rules schema header, then the given rule lines. */
function proofRuleFile(name: string, ruleLines: string[]): string {
  const file = path.join(tmpdir(), name);
  fs.writeFileSync(file, ['# yaml-language-server: $schema=../../specs/schema/rules.schema.json', 'kind: rules', 'family: proof', 'rules:', ...ruleLines, ''].join('\n'));
  return file;
}

describe('proof-line, shape and DMA specs', () => {
  it('validate against their schemas (specs/, examples/evidence, conformance)', () => {
    for (const d of ['specs/proof-lines', 'specs/shapes', 'specs/dma', 'specs/rules/proof-lines.yaml', 'specs/rules/dma-classification.yaml', 'examples/evidence', 'conformance/proof-lines', 'conformance/dma-classification']) {
      const r = validateSpecDir(path.join(ROOT, d));
      expect(r.problems, d).toEqual([]);
    }
  });

  it('load into one catalog: three kinds, four classified shapes, proof and dma rules', () => {
    const cat = loadProofCatalog();
    expect([...cat.kinds.keys()].sort()).toEqual(['dma-backend-selection', 'nvme-cloud-shape-classification', 'nvme-live-storage-proof']);
    expect([...cat.shapes.keys()].sort()).toEqual(['aws-nitro-ebs', 'azure-managed-disk', 'gcp-persistent-disk', 'qemu-nvme']);
    expect(cat.rules.every((r) => /^(proof|dma)-/.test(r.meta.id))).toBe(true);
    expect(cat.evidenceRules.map((r) => r.meta.id).sort()).toEqual(['dma-evidence-claim-exceeds-evidence', 'dma-evidence-contradictory']);
  });

  it('each shape carries the facts of its seed', () => {
    const s = loadClassifiedShapes();
    const c = (id: string) => s.get(id)!.classification;
    expect(c('aws-nitro-ebs').production_id).toMatchObject({ vendor: '0x1d0f', device: '0x8061' });
    expect(c('aws-nitro-ebs').older_transport).toBeNull();
    expect(c('aws-nitro-ebs').nic).toMatchObject({ driver: 'ena', in_scope: false });
    expect(c('azure-managed-disk').production_id.vendor).toBe('0x1414');
    expect(c('azure-managed-disk').older_transport).toMatchObject({ name: 'Hyper-V SCSI', in_scope: false, scope_flag: 'azure_scsi_path' });
    expect(c('azure-managed-disk').nic?.driver).toBe('mana');
    expect(c('gcp-persistent-disk').production_id).toMatchObject({ vendor: '0x1ae0', device: '0x001f' });
    expect(c('gcp-persistent-disk').older_transport?.name).toBe('virtio-scsi');
    expect(c('gcp-persistent-disk').nic?.driver).toBe('gve');
    expect(c('qemu-nvme').production_id).toMatchObject({ vendor: '0x1b36', device: '0x0010' });
    for (const shape of s.values()) {
      expect(shape.classification.pci_class).toEqual({ class: '0x01', subclass: '0x08', prog_if: '0x02' });
      expect(shape.classification.dma.labeled_backend).toBe('bounce-buffer');
    }
    // qemu-nvme keeps its controller section for the wire model.
    expect(fs.readFileSync(path.join(ROOT, 'specs/shapes/qemu-nvme.yaml'), 'utf8')).toMatch(/^controller:\n  cap:/m);
  });

  it("each kind's example line is conforming", () => {
    for (const k of loadProofKinds().values()) {
      const r = proofLineReport(k.example.replace(/\s+/g, ' ').trim());
      expect(r.exitCode, `${k.id}: ${r.text}`).toBe(0);
      expect(r.result.findings, k.id).toEqual([]);
    }
  });

  it('rejects a rule whose check options are wrong, with file:line:col', () => {
    const file = proofRuleFile('bad-rules.yaml', [
      '  - id: proof-test-bad',
      '    severity: error',
      '    title: bad options',
      '    message: "{field} {nonsense}"',
      '    section: test',
      '    explanation: a rule with a misspelt option',
      '    given: proof:dma-backend-selection',
      '    then: { check: field-equals, feilds: { backend: bounce-buffer } }',
    ]);
    let err: unknown;
    try {
      loadProofRules(loadProofKinds(), [file]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const d = (err as UserError).details;
    expect(d.some((x) => x.line === 12 && /feilds|fields/.test(x.message))).toBe(true);
  });

  it('a new rule of an existing check kind needs no code: field-equals on a live proof', () => {
    const file = proofRuleFile('extra.yaml', [
      '  - id: proof-live-polled',
      '    severity: error',
      '    title: completion polled',
      '    message: "`{field}={value}`, expected {expected}"',
      '    section: seed 002 §6',
      '    explanation: the live proof claims no MSI-X delivery',
      '    given: proof:nvme-live-storage-proof',
      '    then: { check: field-equals, fields: { io_cq_completion: polled-io-cq } }',
    ]);
    const { rules } = loadProofRules(loadProofKinds(), [...PROOF_RULE_FILES.map((f) => specPath('rules', f)), file]);
    const added = rules.find((r) => r.meta.id === 'proof-live-polled')!;
    expect(added.check).toBe('field-equals');
    expect(added.kinds).toEqual(new Set(['nvme-live-storage-proof']));
  });
});
