import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { QemuParser } from '../src/parse/qemu.js';
import { loadEventDefs } from '../src/parse/event-spec.js';
import { typedQemuBatches } from '../src/read/qemu-batches.js';
import { normaliseQemu, typedEventsOf } from '../src/normalise/qemu.js';
import { loadNormalisation, recordNormaliser, typedNormaliser, type Alternative } from '../src/normalise/compile.js';
import { compileTemplate } from '../src/parse/template.js';
import { parseExpr } from '../src/rules/expr.js';
import type { Ev } from '../src/normalise/event.js';
import { UserError } from '../src/util/errors.js';
import { EXAMPLES, readLines, tmpdir } from './helpers.js';

/**
 * specs/trace/qemu-normalise.yaml is compiled twice: for typed lines (values straight from the typer's arrays)
 * and for records (fields by name). Both must give the same events for every line.
 */

/** Lines each normalised event kind's alternatives and edge values show up in, beyond the real traces. */
const EXTRA = [
  'pci_nvme_mmio_write addr 0xfff data 0x1 size 4',
  'pci_nvme_mmio_write addr 0x1000 data 0x1 size 4',
  'pci_nvme_mmio_write addr 0xffffffffffff data 0x1 size 4',
  "pci_nvme_write cid 3 opname 'NVME_NVM_CMD_WRITE_ZEROES' nsid 1 nlb 8 count 4096 lba 0x10",
  "pci_nvme_write cid 3 opname 'NVME_NVM_CMD_WRITE' nsid 1 nlb 8 count 4096 lba 0x10",
  'pci_nvme_create_cq create completion queue, addr=0x1000, cqid=1, vector=1, qsize=63, qflags=1, ien=1',
  'pci_nvme_create_cq create completion queue, addr=0x1000, cqid=1, vector=1, qsize=63, qflags=0, ien=0',
  'pci_nvme_create_sq create submission queue, addr=0x2000, sqid=1, cqid=1, qsize=63, qflags=5',
  "pci_nvme_err_aio cid 7 err 'Input/output error' status 0x4006",
  'pci_nvme_err_invalid_lba_range Invalid LBA start=100 len=8 limit=64',
  'pci_nvme_ub_mmiowr_misaligned32 MMIO write not 32-bit aligned, offset=0x1001',
  'pci_nvme_pci_reset PCI Function Level Reset',
  'pci_nvme_irq_masked IRQ is masked',
];

async function typedEvents(file: string): Promise<Ev[]> {
  const parser = new QemuParser();
  const out: Ev[] = [];
  // As the check reads them: views of the typer's memory, each event's text cut out while its batch is current.
  for await (const t of typedQemuBatches(file, { blocking: true, views: true })) typedEventsOf(t, parser, (e) => out.push(plain(e)), () => {});
  return out;
}

/** A typed event as a plain object, its text read. */
function plain(e: Ev): Ev {
  return { kind: e.kind, line: e.line, raw: e.raw, f: e.f };
}

/** The text of every line is `r` (a typed normaliser's events cut their text from their batch). */
const TEXTS = { line: (): string => 'r', lasting: (): string => 'r', where: (): number => -1, byteLength: (): number => 1 };

function recordEvents(lines: string[]): Ev[] {
  const parser = new QemuParser();
  const out: Ev[] = [];
  lines.forEach((l, i) => {
    const r = parser.parse(l, i + 1);
    const e = r && normaliseQemu(r);
    if (e) out.push(e);
  });
  return out;
}

describe('QEMU normalisation (specs/trace/qemu-normalise.yaml)', () => {
  it('gives the same events from typed values as from parsed records, on real traces and edge lines', async () => {
    const dir = tmpdir();
    for (const name of ['linux-mixed-io.log', 'linux-boot-smp2.log', 'extra']) {
      const lines = name === 'extra' ? EXTRA : readLines(path.join(EXAMPLES, name));
      const f = path.join(dir, name);
      fs.writeFileSync(f, lines.join('\n') + '\n');
      const typed = await typedEvents(f);
      const records = recordEvents(lines);
      expect(typed).toEqual(records);
      expect(typed.length).toBeGreaterThan(name === 'extra' ? EXTRA.length - 1 : 1000);
    }
  });

  it('applies the first alternative whose condition holds', () => {
    const [reg, db, big, zeroes, write, cq1, cq0, sq] = recordEvents(EXTRA);
    expect(reg).toMatchObject({ kind: 'reg.write', f: { offset: 0xfff, value: 1, size: 4 } });
    expect(db).toMatchObject({ kind: 'host.doorbell', f: { offset: 0x1000, value: 1 } });
    expect(big!.kind).toBe('host.doorbell');
    expect(zeroes).toMatchObject({ kind: 'cmd.rw', f: { op: 'write_zeroes', blocks: 8 } });
    expect(zeroes!.f.bytes).toBeUndefined();
    expect(write).toMatchObject({ kind: 'cmd.rw', f: { op: 'write', bytes: 4096 } });
    expect(cq1!.f).toMatchObject({ pc: true, ien: true, qsize: 63 });
    expect(cq0!.f).toMatchObject({ pc: false, ien: false });
    expect(sq!.f).toMatchObject({ pc: true, qprio: 2 });
    const errs = recordEvents(EXTRA).filter((e) => e.kind === 'device.error');
    expect(errs.map((e) => e.f.event)).toEqual(['pci_nvme_err_aio', 'pci_nvme_err_invalid_lba_range', 'pci_nvme_ub_mmiowr_misaligned32']);
    expect(errs[0]!.f).toMatchObject({ cid: 7, errname: 'Input/output error', status: 0x4006 });
  });

  it('reads an absent optional field as undefined, typed or not', () => {
    // No QEMU event the model reads has optional groups; a user's templates may.
    const def = { name: 'pci_nvme_t', cls: 'info' as const, dead: false, tpl: compileTemplate("a {a:u32}[ b {b:u32}] n '{n:str}'") };
    const alts: Alternative[] = [{ when: parseExpr('a > 0'), kind: 'k.x', fields: [['a', parseExpr('a')], ['b', parseExpr('b')], ['has_b', parseExpr('defined(b)')], ['n', parseExpr('n')]] }];
    const typed = typedNormaliser(alts, def);
    const rec = recordNormaliser(alts);
    const without = { kind: 'k.x', line: 5, raw: 'r', f: { a: 1, b: undefined, has_b: false, n: 'x' } };
    expect(plain(typed(Float64Array.of(1, NaN, 0), 0, ['x'], 5, TEXTS, 0)!)).toStrictEqual(without);
    expect(rec({ a: 1, n: 'x' }, 5, 'r')).toStrictEqual(without);
    expect(plain(typed(Float64Array.of(9, 1, 2, 0), 1, ['y'], 6, TEXTS, 0)!)).toStrictEqual({ kind: 'k.x', line: 6, raw: 'r', f: { a: 1, b: 2, has_b: true, n: 'y' } });
    // No alternative applies: nothing.
    expect(typed(Float64Array.of(0, 2, 0), 0, ['x'], 5, TEXTS, 0)).toBeUndefined();
    expect(rec({ a: 0, b: 2, n: 'x' }, 5, 'r')).toBeUndefined();
  });

  it('reports a bad spec at file:line:col: unknown event, unknown field, unknown function, bad syntax', () => {
    const f = path.join(tmpdir(), 'bad-normalise.yaml');
    fs.writeFileSync(
      f,
      [
        '# yaml-language-server: $schema=../schema/trace-normalise.schema.json',
        'kind: trace-normalise',
        'format: qemu',
        'events:',
        '  pci_nvme_no_such_event:',
        '    kind: cmd.submit',
        '  pci_nvme_io_cmd:',
        '    kind: cmd.submit',
        '    fields: { sqid: sqidd, cid: cid }',
        '  pci_nvme_read:',
        '    - when: nope(cid)',
        '      kind: cmd.rw',
        '    - kind: cmd.rw',
        '      fields: { op: "cid +" }',
        '',
      ].join('\n'),
    );
    let err: UserError | undefined;
    try {
      loadNormalisation(loadEventDefs('qemu'), f);
    } catch (e) {
      err = e as UserError;
    }
    expect(err).toBeInstanceOf(UserError);
    const got = err!.details.map((d) => `${d.line}:${d.col} ${d.message}`);
    expect(got).toEqual([
      expect.stringMatching(/^5:3 pci_nvme_no_such_event: no such event/),
      '9:21 pci_nvme_io_cmd field \'sqid\': unknown field \'sqidd\' (fields of its template: cid, nsid, sqid, opcode, opname)',
      "11:13 pci_nvme_read when: unknown function 'nope'",
      expect.stringMatching(/^14:27 pci_nvme_read field 'op': expression syntax error at column 6/),
    ]);
  });
});
