import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { proofLineReport } from '../src/cli/commands/proof.js';
import { UserError } from '../src/util/errors.js';
import { cli } from './helpers.js';
import { CLEAN_LOG } from './proof-helpers.js';

const lines = fs.readFileSync(CLEAN_LOG, 'utf8').split('\r\n');
const AWS = lines.find((l) => l.includes('cloud_shape=aws-nitro-ebs'))!.replace(/^\[[^\]]*\]\s*/, '');
const SEL = lines.find((l) => l.includes('dma: backend selection'))!.replace(/^\[[^\]]*\]\s*/, '');
const LIVE =
  'nvme: live storage proof live_cloud=gce-persistent-disk bdf=0000:00:05.0 class=01.08.02 vendor=0x1ae0 device=0x001f selected_dma_backend=bounce_buffer enumeration_source=legacy-io nsid=1 slba=0 nlb=1 bytes=512 io_read=completed io_sq_doorbell=performed io_cq_completion=polled-io-cq prp_source=manager-ledger host_physical_user_visible=0 iova_export=disabled-future-only read_digest_prefix=eb3c904c494d494e4520200002000000';

function row(r: ReturnType<typeof proofLineReport>, field: string) {
  return r.result.tables[0]!.rows.find((x) => x.field === field);
}

describe('proof-line table (function)', () => {
  it('a correct classification line: every key ok, exit 0, the same-boot rule noted as not checked', () => {
    const r = proofLineReport(AWS);
    expect(r.exitCode).toBe(0);
    expect(r.result.tables).toHaveLength(1);
    for (const x of r.result.tables[0]!.rows) {
      expect(x.verdict).toBe('ok');
      expect(x.reason.length).toBeGreaterThan(10);
      expect(x.source.length).toBeGreaterThan(3);
    }
    expect(r.result.notes.join('\n')).toContain('proof-classification-without-backend not checked');
    expect(r.text).toContain('verdict: conforming');
  });

  it('the live GCE marker of seed 002 §6 is ok, with bounce_buffer read as bounce-buffer', () => {
    const r = proofLineReport(LIVE);
    expect(r.exitCode).toBe(0);
    expect(row(r, 'selected_dma_backend')?.verdict).toBe('ok');
    expect(row(r, 'selected_dma_backend')?.reason).toContain('dma-live-backend-disagrees-with-shape');
  });

  it('marks over-claims, wrong, missing and unknown keys, each with a reason and a source; exit 1', () => {
    const bad = AWS.replace('pci_vendor=0x1b36', 'pci_vendor=0x1d0f').replace('real_aws_enumeration=not-claimed', 'real_aws_enumeration=claimed').replace(/ ena=\S+/, '') + ' nitro_card=v5';
    const r = proofLineReport(bad);
    expect(r.exitCode).toBe(1);
    expect(row(r, 'pci_vendor')).toMatchObject({ verdict: 'over-claims', rule: 'proof-precursor-claims-production-id' });
    expect(row(r, 'pci_vendor')!.reason).toContain("aws-nitro-ebs's production id");
    expect(row(r, 'pci_vendor')!.source).toContain('seed 001');
    expect(row(r, 'real_aws_enumeration')).toMatchObject({ verdict: 'wrong', rule: 'proof-scope-flag' });
    expect(row(r, 'ena')).toMatchObject({ verdict: 'missing', rule: 'proof-scope-flag' });
    expect(row(r, 'nitro_card')).toMatchObject({ verdict: 'unknown-key', rule: 'proof-unknown-key' });
    expect(row(r, 'class')?.verdict).toBe('ok');
    expect(r.text).toMatch(/pci_vendor\s+0x1d0f\s+OVER-CLAIMS/);
    expect(r.text).toMatch(/ena\s+-\s+MISSING/);
  });

  it('an unknown key alone is a warning: exit 0', () => {
    expect(proofLineReport(`${SEL} extra_key=1`).exitCode).toBe(0);
  });

  it('a classification and its backend selection pasted together are checked as one boot', () => {
    const ok = proofLineReport(`${SEL}\n${AWS}\n`);
    expect(ok.exitCode).toBe(0);
    expect(ok.result.notes.join('\n')).not.toContain('not checked');
    const bad = proofLineReport(`${SEL.replace('bounce-buffer', 'unsupported').replace('absent', 'unverified')}\n${AWS}\n`);
    expect(bad.exitCode).toBe(1);
    expect(bad.result.findings.map((f) => f.rule)).toEqual(['dma-backend-disagrees-with-shape']);
  });

  it('a malformed line gets a syntax row with the column and what was expected', () => {
    const r = proofLineReport('dma: backend selection backend=bounce-buffer iommu absent');
    expect(r.exitCode).toBe(1);
    expect(r.result.tables[0]!.rows[0]).toMatchObject({ field: '(syntax)', verdict: 'wrong' });
    expect(r.result.tables[0]!.rows[0]!.reason).toContain('column 51');
  });

  it('markdown and json renderings', () => {
    const md = proofLineReport(AWS, { format: 'markdown' }).text;
    expect(md).toContain('| field | value | verdict | reason | source |');
    expect(md).toContain('| `pci_vendor` | `0x1b36` | ok |');
    const js = JSON.parse(proofLineReport(AWS, { format: 'json' }).text) as { tables: unknown[] };
    expect(js.tables).toHaveLength(1);
  });

  it('text that is not a proof line is a usage error', () => {
    expect(() => proofLineReport('hello world')).toThrow(UserError);
    expect(() => proofLineReport('   \n')).toThrow(/no proof line/);
  });
});

describe('nvmeproof proof-line (built CLI)', () => {
  it('prints the table and exits 0 on a clean line', () => {
    const r = cli(['proof-line', AWS]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/aws_nitro_ebs_vendor\s+0x1d0f\s+ok/);
  });
  it('exits 1 on an error verdict', () => {
    const r = cli(['proof-line', AWS.replace('class=0x01', 'class=0x03')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/class\s+0x03\s+WRONG/);
  });
  it('reads standard input with -', () => {
    const r = cli(['proof-line', '-', '--format', 'markdown'], `${SEL}\n${AWS}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('dma: backend selection');
  });
  it('exits 2 with one clear line on input that is not a proof line', () => {
    const r = cli(['proof-line', 'hello world']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('not a proof line');
    expect(r.stderr).not.toContain('    at ');
  });
});
