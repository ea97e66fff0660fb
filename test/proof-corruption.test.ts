import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSerialLine } from '../src/parse/serial.js';
import { CLEAN_LOG, checkSerialFile, checkSerialText } from './proof-helpers.js';

/**
 * The clean local-QEMU log (AWS + Azure classifications, bounce-buffer backend selection, one boot) checks clean;
 * every single-field corruption of it is rejected with a reason, at the corrupted line; so is dropping any field,
 * and so is dropping the backend selection.
 */

const text = fs.readFileSync(CLEAN_LOG, 'utf8');
const lines = text.split('\r\n');

interface ProofAt {
  line: number; // 1-based
  kind: string;
  fields: { key: string; value: string; col: number; valueCol: number }[];
}

const proofs: ProofAt[] = [];
lines.forEach((l, i) => {
  const p = parseSerialLine(l);
  if (p.type === 'proof') proofs.push({ line: i + 1, kind: `${p.subsystem}: ${p.phrase}`, fields: p.fields });
});

/** A wrong value for each key: plausible, well-formed, and a violation. */
const WRONG: Record<string, string> = {
  backend: 'direct-remapping',
  iommu: 'verified',
  direct_dma: 'allowed',
  host_physical_user_visible: '1',
  cloud_shape: 'oracle-block-volume',
  pci_vendor: '0x1d0f',
  pci_device_id: '0x8061',
  class: '0x02',
  subclass: '0x06',
  prog_if: '0x01',
  aws_nitro_ebs_vendor: '0x1b36',
  azure_nvme_vendor: '0x1d0f',
  local_qemu_precursor: 'false',
  real_aws_enumeration: 'claimed',
  real_azure_enumeration: 'confirmed',
  ena: 'in-scope',
  mana: 'in-scope',
  azure_scsi_path: 'virtio-scsi-provider',
  aws_labeled_dma_backend: 'direct-remapping',
  azure_labeled_dma_backend: 'unsupported',
  dma_backend_policy: 'direct-remapping-always',
};

function replaceAt(line: string, col: number, len: number, by: string): string {
  return line.slice(0, col - 1) + by + line.slice(col - 1 + len);
}

describe('the clean local-QEMU cloud-shapes log', () => {
  it('checks clean: three proof lines in one boot, no finding', async () => {
    const r = await checkSerialFile(CLEAN_LOG);
    expect(r.findings).toEqual([]);
    expect(r.tables.map((t) => [t.kind, t.line, t.shape])).toEqual([
      ['dma-backend-selection', proofs[0]!.line, undefined],
      ['nvme-cloud-shape-classification', proofs[1]!.line, 'aws-nitro-ebs'],
      ['nvme-cloud-shape-classification', proofs[2]!.line, 'azure-managed-disk'],
    ]);
    for (const t of r.tables) for (const row of t.rows) expect(row.verdict, `${t.line} ${row.field}`).toBe('ok');
    expect(r.notes).toEqual(['3 proof line(s) in 1 of 1 boot(s)']);
  });

  it('holds every key the corruption table covers', () => {
    for (const p of proofs) for (const f of p.fields) expect(WRONG, f.key).toHaveProperty(f.key);
  });

  const wrongCases = proofs.flatMap((p) => p.fields.map((f) => [`${p.kind} ${f.key}=${WRONG[f.key]}`, p, f] as const));
  it.each(wrongCases)('rejects %s', (_n, p, f) => {
    const bad = [...lines];
    bad[p.line - 1] = replaceAt(bad[p.line - 1]!, f.valueCol, f.value.length, WRONG[f.key]!);
    const r = checkSerialText(bad.join('\n'));
    const errors = r.findings.filter((x) => x.severity === 'error');
    expect(errors.length, JSON.stringify(r.findings)).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.line, `${e.rule} ${e.message}`).toBe(p.line);
      expect(e.message.length).toBeGreaterThan(20);
    }
    const table = r.tables.find((t) => t.line === p.line)!;
    const bad_rows = table.rows.filter((row) => row.verdict !== 'ok');
    expect(bad_rows.length).toBeGreaterThan(0);
    for (const row of bad_rows) expect(row.reason).toBeTruthy();
  });

  const dropCases = proofs.flatMap((p) => p.fields.map((f) => [`${p.kind} without ${f.key}`, p, f] as const));
  it.each(dropCases)('rejects %s', (_n, p, f) => {
    const bad = [...lines];
    const l = bad[p.line - 1]!;
    const end = l.indexOf(' ', f.valueCol - 1);
    bad[p.line - 1] = l.slice(0, f.col - 2) + (end === -1 ? '' : l.slice(end));
    const r = checkSerialText(bad.join('\n'));
    const errors = r.findings.filter((x) => x.severity === 'error');
    expect(errors.length, JSON.stringify(r.findings)).toBeGreaterThan(0);
    for (const e of errors) expect(e.line).toBe(p.line);
    const table = r.tables.find((t) => t.line === p.line)!;
    const row = table.rows.find((x) => x.field === f.key);
    expect(row?.verdict, JSON.stringify(table.rows)).not.toBe('ok');
  });

  it('rejects both classifications when the backend selection is gone from the boot', () => {
    const sel = proofs[0]!;
    const bad = lines.filter((_l, i) => i !== sel.line - 1);
    const r = checkSerialText(bad.join('\n'));
    expect(r.findings.map((f) => [f.rule, f.line])).toEqual([
      ['proof-classification-without-backend', proofs[1]!.line - 1],
      ['proof-classification-without-backend', proofs[2]!.line - 1],
    ]);
  });

  it('rejects a classification moved into a boot of its own', () => {
    const az = proofs[2]!;
    const bad = [...lines];
    const moved = bad.splice(az.line - 1, 1)[0]!;
    bad.push('SeaBIOS (version 1.16.2-debian-1.16.2-1)', '[    0.000000] Linux version 6.1.0-56-cloud-amd64', moved.replace(/^\[\s*[\d.]+\]/, '[    0.530000]'));
    const r = checkSerialText(bad.join('\n'));
    expect(r.findings.map((f) => [f.rule, f.line])).toEqual([['proof-classification-without-backend', bad.length]]);
  });
});
