import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Finding } from '../src/findings/finding.js';
import {
  applyBaseline,
  createBaseline,
  parseBaseline,
  readBaseline,
  serializeBaseline,
  writeBaseline,
} from '../src/report/baseline.js';
import { fingerprint, normaliseContent } from '../src/report/fingerprint.js';
import { renderJson } from '../src/report/json.js';
import { renderText } from '../src/report/text.js';
import { UserError } from '../src/util/errors.js';
import { sampleResult, shiftedResult } from './fixtures/report/results.js';
import { ROOT, tmpDir } from './fixtures/report/tools.js';

const base: Finding = {
  rule: 'queue-sq-cq-exists',
  severity: 'error',
  message: 'I/O SQ 1 binds to CQ 2, which does not exist',
  file: 'traces/linux-boot.log',
  line: 2950,
  raw: '4242@1700000001.882101:pci_nvme_create_sq create submission queue, addr=0x2930000, sqid=1, cqid=2, qsize=1023, qflags=1',
  related: [],
  binding: 'sqid=1 cqid=2',
};

describe('fingerprint', () => {
  it('ignores the line number, QEMU PID@timestamp, printk and ftrace prefixes, colour and spacing', () => {
    const fp = fingerprint(base);
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    expect(fingerprint({ ...base, line: 12 })).toBe(fp);
    expect(fingerprint({ ...base, raw: base.raw!.replace('4242@1700000001.882101:', '77@1800000000.000001:') })).toBe(fp);
    expect(fingerprint({ ...base, raw: base.raw!.replace('4242@1700000001.882101:', '') })).toBe(fp);
    expect(fingerprint({ ...base, raw: `\x1b[0m${base.raw!.replace(', ', ',   ')}` })).toBe(fp);
    expect(normaliseContent('[    2.412345] nvme: cloud shape classification cloud_shape=aws-nitro-ebs')).toBe('nvme: cloud shape classification cloud_shape=aws-nitro-ebs');
    expect(normaliseContent('<6>[   12.000001] dma: backend selection backend=bounce-buffer')).toBe('dma: backend selection backend=bounce-buffer');
    expect(
      normaliseContent('    kworker/u4:1-25      [000] .....     2.203217: nvme_setup_cmd: nvme0: qid=0, cmdid=8, nsid=0, flags=0x0, meta=0x0, cmd=(nvme_admin_identify cns=1, ctrlid=0)'),
    ).toBe('nvme_setup_cmd: nvme0: qid=0, cmdid=8, nsid=0, flags=0x0, meta=0x0, cmd=(nvme_admin_identify cns=1, ctrlid=0)');
    expect(normaliseContent('  cryptomgr_test-69      [001] d.h..     2.204552: nvme_sq: nvme0: qid=0, head=1, tail=1')).toBe('nvme_sq: nvme0: qid=0, head=1, tail=1');
    expect(normaliseContent('write reg=CC value=0x460001 author=provider ts=12.5 pid=311')).toBe('write reg=CC value=0x460001 author=provider ts=# pid=#');
  });

  it('changes with the rule, the binding and the content that matters', () => {
    const fp = fingerprint(base);
    expect(fingerprint({ ...base, rule: 'cmd-cid-unique' })).not.toBe(fp);
    expect(fingerprint({ ...base, binding: 'sqid=2 cqid=2' })).not.toBe(fp);
    expect(fingerprint({ ...base, raw: base.raw!.replace('cqid=2', 'cqid=3') })).not.toBe(fp);
    expect(fingerprint({ ...base, raw: base.raw!.replace('addr=0x2930000', 'addr=0x2931000') })).not.toBe(fp);
  });

  it('without a raw line, uses the message without its line numbers', () => {
    const a = { ...base, raw: undefined, message: 'CQ 2 was deleted at line 398' };
    expect(fingerprint(a)).toBe(fingerprint({ ...a, message: 'CQ 2 was deleted at line 4020' }));
    expect(fingerprint(a)).not.toBe(fingerprint({ ...a, message: 'CQ 3 was deleted at line 398' }));
  });
});

describe('baseline', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'schema', 'report.schema.json'), 'utf8')) as { $id: string };

  it('is versioned JSON that validates against report.schema.json#/$defs/baseline', () => {
    const b = createBaseline(sampleResult());
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    ajv.addSchema(schema);
    const validate = ajv.getSchema(`${schema.$id}#/$defs/baseline`)!;
    const doc = JSON.parse(serializeBaseline(b));
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc).toMatchObject({ kind: 'nvmeproof-baseline', schemaVersion: '1.0.0', fingerprintVersion: 'v1', tool: { name: 'nvmeproof' } });
    expect(doc.entries).toHaveLength(6);
    expect(doc.entries[0]).toMatchObject({ file: 'traces/boot.serial.txt', rule: 'shape-dma-backend-agrees', count: 1, line: 88 });
  });

  it('accepts every finding of the run it was made from', () => {
    const result = sampleResult();
    const filtered = applyBaseline(result, createBaseline(result), { baselineFile: 'nvmeproof-baseline.json' });
    expect(filtered.files.flatMap((f) => f.findings)).toEqual([]);
    expect(filtered.summary).toMatchObject({ errors: 0, warnings: 0, infos: 0, files: 3, lines: result.summary.lines });
    expect(filtered.baseline).toEqual({ file: 'nvmeproof-baseline.json', accepted: 6, stale: 0 });
    expect(renderText(filtered)).toContain('6 findings accepted by the baseline (nvmeproof-baseline.json)');
    expect(JSON.parse(renderJson(filtered)).summary.baseline).toEqual({ file: 'nvmeproof-baseline.json', accepted: 6, stale: 0 });
  });

  it('survives unrelated lines inserted at the top of a trace (and a re-run with another PID and clock)', () => {
    const before = sampleResult();
    const baseline = createBaseline(before);
    const after = shiftedResult(25);
    // Every finding moved: the line numbers and the QEMU prefixes differ.
    expect(after.files[0]!.findings[1]!.line).toBe(before.files[0]!.findings[1]!.line + 25);
    expect(after.files[0]!.findings[1]!.raw).not.toBe(before.files[0]!.findings[1]!.raw);
    const filtered = applyBaseline(after, baseline);
    expect(filtered.files.flatMap((f) => f.findings)).toEqual([]);
    expect(filtered.baseline).toEqual({ accepted: 6, stale: 0 });
  });

  it('reports a new finding as new, and a finding that now occurs more often than accepted', () => {
    const baseline = createBaseline(sampleResult());
    const after = shiftedResult(3);
    const boot = after.files[0]!;
    const extra: Finding = {
      ...boot.findings[2]!,
      line: 3200,
      raw: '5151@1700000003.000001:pci_nvme_io_cmd cid 700 nsid 0x1 sqid 1 opc 0x2 opname \'NVME_NVM_CMD_READ\'',
      binding: 'sqid=1 cid=700',
      message: 'CID 700 reused on SQ 1 while still outstanding',
    };
    const again: Finding = { ...boot.findings[1]!, line: 3300 }; // the same SQ/CQ mistake a second time
    boot.findings.push(extra, again);
    const filtered = applyBaseline(after, baseline);
    const left = filtered.files.flatMap((f) => f.findings);
    expect(left.map((f) => [f.rule, f.line])).toEqual([
      ['cmd-cid-unique', 3200],
      ['queue-sq-cq-exists', 3300],
    ]);
    expect(filtered.summary.errors).toBe(2);
    expect(filtered.baseline).toEqual({ accepted: 6, stale: 0 });
  });

  it('counts baseline entries that no longer occur as stale', () => {
    const baseline = createBaseline(sampleResult());
    const after = sampleResult();
    after.files[0]!.findings.splice(0, 2);
    const filtered = applyBaseline(after, baseline);
    expect(filtered.baseline).toEqual({ accepted: 4, stale: 2 });
    expect(renderText(filtered)).toContain('2 baseline entries no longer occur');
  });

  it('matches by file unless told to ignore it', () => {
    const baseline = createBaseline(sampleResult());
    const renamed = sampleResult();
    const f = renamed.files[0]!;
    f.file = 'traces/run-1234.log';
    for (const x of f.findings) x.file = f.file;
    expect(applyBaseline(renamed, baseline).files[0]!.findings).toHaveLength(4);
    expect(applyBaseline(renamed, baseline, { ignoreFile: true }).files[0]!.findings).toHaveLength(0);
  });

  it('stores paths relative to the working directory', () => {
    const result = sampleResult();
    for (const file of result.files) {
      file.file = `/work/checkout/${file.file}`;
      for (const x of file.findings) x.file = file.file;
    }
    const b = createBaseline(result, { cwd: '/work/checkout' });
    expect(b.entries.map((e) => e.file).filter((f) => f.startsWith('/'))).toEqual([]);
    expect(b.entries[0]!.file).toBe('traces/boot.serial.txt');
    expect(applyBaseline(result, b, { cwd: '/work/checkout' }).baseline).toEqual({ accepted: 6, stale: 0 });
  });

  it('reads and writes files, and rejects what is not a baseline with a UserError', () => {
    const dir = tmpDir('baseline');
    const file = path.join(dir, 'baseline.json');
    writeBaseline(file, sampleResult());
    expect(readBaseline(file)).toEqual(createBaseline(sampleResult()));
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"kind":"nvmeproof-baseline","schemaVersion":"9.9.9","entries":[]}');
    expect(() => readBaseline(path.join(dir, 'bad.json'))).toThrow(UserError);
    expect(() => parseBaseline('not json', 'x.json')).toThrow(/x\.json is not a baseline/);
    expect(() => readBaseline(path.join(dir, 'missing.json'))).toThrow(/cannot read baseline .*ENOENT/);
    try {
      readBaseline(path.join(dir, 'bad.json'));
    } catch (e) {
      expect((e as UserError).details.map((d) => d.message).join('\n')).toMatch(/schemaVersion/);
    }
  });
});
