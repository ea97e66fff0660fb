import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/run.js';
import { loadCatalog } from '../src/rules/catalog.js';
import type { Finding } from '../src/findings/finding.js';
import { EXAMPLES, ROOT, cli, readLines, tmpdir } from './helpers.js';

/** The disk rule family on real traces, through `check --namespace`, and on the QEMU events it maps. */

const catalog = loadCatalog();
const errors = (fs: Finding[]): string[] => fs.filter((f) => f.severity !== 'info').map((f) => `${f.rule}@${f.line}`);
const ns64 = path.join(EXAMPLES, 'disk', 'qemu-64mib.namespaces.yaml');
const ns128 = path.join(EXAMPLES, 'disk', 'qemu-128mib.namespaces.yaml');

describe('real traces', () => {
  for (const f of ['linux-boot-smp1.log', 'linux-boot-smp2.log', 'linux-mixed-io.log']) {
    it(`${f}: no error or warning`, async () => {
      const r = await checkTrace(path.join(EXAMPLES, f), { catalog });
      expect(errors(r.findings)).toEqual([]);
      expect(r.exercised).toContain('disk-read-only-write');
    });
  }

  it('linux-mixed-io.log with its namespace (128 MiB, deallocated blocks read as zeroes): blkdiscard, fstrim and BLKZEROOUT are followed without a finding', async () => {
    const r = await checkTrace(path.join(EXAMPLES, 'linux-mixed-io.log'), { catalog, namespace: ns128 });
    expect(errors(r.findings)).toEqual([]);
    expect(r.exercised).toEqual(expect.arrayContaining(['disk-lba-range', 'disk-read-only-write']));
  });

  it('the ftrace run: the read past the end is disk-lba-range with LBA Out of Range in both views, four errors each', async () => {
    const k = await checkTrace(path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt'), { catalog });
    const q = await checkTrace(path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log'), { catalog });
    expect(errors(k.findings)).toEqual(['cmd-opcode-supported@124', 'cmd-opcode-supported@127', 'disk-lba-range@135', 'cmd-log-page-supported@136']);
    expect(errors(q.findings)).toEqual(['cmd-opcode-supported@3672', 'cmd-opcode-supported@3685', 'disk-lba-range@3716', 'cmd-log-page-supported@3729']);
    const kf = k.findings.find((f) => f.rule === 'disk-lba-range')!;
    expect(kf.message).toMatch(/READ cid 642 completed with status 0x4080 \(LBA_OUT_OF_RANGE\)/);
    const qf = q.findings.find((f) => f.rule === 'disk-lba-range')!;
    expect(qf.message).toMatch(/pci_nvme_err_invalid_lba_range \(Invalid LBA start=131071 len=8 limit=131072\)/);
    expect(qf.related.map((x) => x.line)).toEqual(expect.arrayContaining([3714, 3717]));
    expect(qf.related.find((x) => x.line === 3717)!.raw).toMatch(/status 0x4080$/);
  });

  it('with --namespace the same read is reported on the command itself, still once', async () => {
    const k = await checkTrace(path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt'), { catalog, namespace: ns64 });
    const q = await checkTrace(path.join(EXAMPLES, 'ftrace', 'qemu-same-run.log'), { catalog, namespace: ns64 });
    expect(errors(k.findings)).toEqual(['cmd-opcode-supported@124', 'cmd-opcode-supported@127', 'disk-lba-range@133', 'cmd-log-page-supported@136']);
    expect(errors(q.findings)).toEqual(['cmd-opcode-supported@3672', 'cmd-opcode-supported@3685', 'disk-lba-range@3715', 'cmd-log-page-supported@3729']);
    const qf = q.findings.find((f) => f.rule === 'disk-lba-range')!;
    expect(qf.message).toBe('read of 8 block(s) at LBA 131071 goes beyond the end of namespace 1 (131072 blocks)');
    expect(qf.related.map((x) => x.line)).toEqual(expect.arrayContaining([3716, 3717]));
  });
});

describe('nvmeproof check --namespace', () => {
  it('checks several traces against the namespace file, and text output names the rule', () => {
    const r = cli(['check', '--namespace', ns64, 'examples/ftrace/linux-ftrace.txt', 'examples/ftrace/qemu-same-run.log']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/3715\s+error\s+disk-lba-range\s+read of 8 block\(s\) at LBA 131071 goes beyond the end of namespace 1 \(131072 blocks\)/);
    expect(r.stdout).toMatch(/8 errors, 0 warnings in 2 files/);
  });

  it('a namespace file that breaks the contract is exit 2 with every problem located', () => {
    const r = cli(['check', '--namespace', path.join(EXAMPLES, 'disk', 'bad-namespaces.yaml'), 'examples/linux-boot-smp1.log']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-namespaces\.yaml: invalid namespace description \(3 problems/);
    expect(r.stderr).toMatch(/bad-namespaces\.yaml:6:15: ns\.lba-size: LBA size 4000 of namespace 1/);
    const missing = cli(['check', '--namespace', 'no-such.yaml', 'examples/linux-boot-smp1.log']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no-such\.yaml: no such namespace file/);
  });
});

/** A QEMU trace: the first 51 lines of a real Linux bring-up (I/O queue pair 1), then the given lines. */
function qemuTrace(body: string[]): string {
  const base = readLines(path.join(ROOT, 'conformance', 'disk', 'disk-lba-range', 'valid-linux-boot.log')).slice(0, 51);
  const dir = tmpdir();
  const file = path.join(dir, 'trace.log');
  fs.writeFileSync(file, [...base, ...body].join('\n') + '\n');
  return file;
}

describe('QEMU events mapped onto the disk rules', () => {
  it('pci_nvme_err_aio is attached to the failing command by cid, even when another command was fetched since', async () => {
    const file = qemuTrace([
      'pci_nvme_mmio_write addr 0x1008 data 0x2 size 4',
      'pci_nvme_mmio_doorbell_sq sqid 1 new_tail 2',
      "pci_nvme_io_cmd cid 640 nsid 0x1 sqid 1 opc 0x2 opname 'NVME_NVM_CMD_READ'",
      'pci_nvme_read cid 640 nsid 1 nlb 8 count 4096 lba 0x0',
      'pci_nvme_map_prp trans_len 4096 len 4096 prp1 0x290c000 prp2 0x0 num_prps 2',
      "pci_nvme_io_cmd cid 641 nsid 0x1 sqid 1 opc 0x2 opname 'NVME_NVM_CMD_READ'",
      'pci_nvme_read cid 641 nsid 1 nlb 8 count 4096 lba 0x8',
      'pci_nvme_map_prp trans_len 4096 len 4096 prp1 0x290d000 prp2 0x0 num_prps 2',
      "pci_nvme_rw_complete_cb cid 640 blk 'nvm'",
      "pci_nvme_err_aio cid 640 err 'Input/output error' status 0x281",
      'pci_nvme_enqueue_req_completion cid 640 cqid 1 dw0 0x0 dw1 0x0 status 0x4281',
      'pci_nvme_err_req_status cid 640 nsid 1 status 0x4281 opc 0x2',
      "pci_nvme_rw_complete_cb cid 641 blk 'nvm'",
      'pci_nvme_enqueue_req_completion cid 641 cqid 1 dw0 0x0 dw1 0x0 status 0x0',
    ]);
    const r = await checkTrace(file, { catalog });
    const f = r.findings.filter((x) => x.severity !== 'info');
    expect(f.map((x) => `${x.severity} ${x.rule}@${x.line}`)).toEqual(['warning disk-io-error@61']);
    expect(f[0]!.binding).toBe('sq=1,cid=640');
    expect(f[0]!.related.map((x) => x.line)).toEqual(expect.arrayContaining([54, 62]));
  });

  it('a DSM range past the end: QEMU prints err_invalid_lba_range twice and completes with status 0 (quirk): one finding', async () => {
    const r = await checkTrace(path.join(ROOT, 'conformance', 'disk', 'disk-lba-range', 'invalid-dsm-range-past-end.log'), { catalog });
    expect(errors(r.findings)).toHaveLength(1);
    expect(r.findings[0]!.related.filter((x) => /err_invalid_lba_range/.test(x.raw ?? ''))).toHaveLength(1);
  });
});
