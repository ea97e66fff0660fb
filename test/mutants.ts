/**
 * Single-fault mutants of the real QEMU 7.2 traces in examples/. Each mutant injects one host fault at one site
 * and names the rule that must report it and the line it must be reported on.
 *
 * Mutants stay realistic: the mutated line is the guest's action (the mmio_write, the admin/io_cmd, the
 * create_* line, the map_prp line...), and every line QEMU derives from it is changed with it: the register
 * echo (`pci_nvme_mmio_asqaddr ... =X`, `mmio_cfg`), the doorbell echo (replaced by QEMU's `pci_nvme_ub_db_wr_*`
 * report when QEMU 7.2 refuses the write, followed by the Error AER when one is outstanding), QEMU's
 * `pci_nvme_err_*` line and the error status of the completion when QEMU rejects the command. What QEMU would do
 * afterwards (e.g. not fetch the commands after an ignored doorbell) is not rewritten: the checker only has to
 * report the fault where it happens.
 *
 * Sites come from both drivers of a trace: the SeaBIOS part (lines 1..~2890) and the Linux part; classes that
 * need a controller fresh from a PCI reset also run on a "linux-only" cut (the PCI reset line + the Linux part).
 */

export type Segment = 'seabios' | 'linux' | 'linux-only';

export interface Mutant {
  id: string;
  cls: string;
  trace: string;
  segment: Segment;
  /** Rule that must report the fault. */
  rule: string;
  /** 1-based line of the mutated trace the finding must be on. */
  line: number;
  lines: string[];
  note: string;
}

export const CLASSES = {
  'asq-misaligned': 'ASQ base not 4 KiB aligned',
  'acq-misaligned': 'ACQ base not 4 KiB aligned',
  'admin-regs-while-enabled': 'AQA/ASQ written while CC.EN=1',
  'enable-before-admin-regs': 'CC.EN set before AQA/ASQ/ACQ were programmed',
  'doorbell-beyond-queue': 'doorbell value beyond the queue size',
  'doorbell-missing-queue': 'doorbell for a queue that does not exist',
  'doorbell-while-disabled': 'doorbell while the controller is disabled',
  'sq-missing-cq': 'I/O SQ bound to a CQ that does not exist',
  'queue-base-misaligned': 'I/O queue base not page aligned',
  'qsize-gt-mqes': 'I/O queue QSIZE > CAP.MQES',
  'duplicate-queue-id': 'I/O queue id created twice',
  'cid-reused-outstanding': 'CID reused while a command with that CID is outstanding',
  'completion-without-command': 'completion that matches no outstanding command',
  'io-on-missing-queue': 'I/O on a missing or deleted queue',
  'cq-deleted-before-sq': 'CQ deleted while an SQ is still bound to it',
  'prp1-unaligned': 'PRP1 not dword aligned',
  'prp2-misaligned': 'PRP2 (second page) not page aligned',
  'prp-list-misaligned': 'PRP list pointer not qword aligned',
  'data-length-mismatch': 'data length != (NLB+1) x LBA size',
  'cc-mps-out-of-range': 'CC.MPS outside CAP.MPSMIN..MPSMAX',
} as const;
export type MutantClass = keyof typeof CLASSES;

// ---------------------------------------------------------------- trace analysis

const hex = (n: number | bigint): string => '0x' + n.toString(16);
const RX = {
  write: /^pci_nvme_mmio_write addr (0x[0-9a-f]+) data (0x[0-9a-f]+) size (\d+)$/,
  adminCmd: /^pci_nvme_admin_cmd cid (\d+) sqid 0 opc (0x[0-9a-f]+) opname '(\w+)'$/,
  ioCmd: /^pci_nvme_io_cmd cid (\d+) nsid (0x[0-9a-f]+) sqid (\d+) opc (0x[0-9a-f]+) opname '(\w+)'$/,
  completion: /^pci_nvme_enqueue_req_completion cid (\d+) cqid (\d+) dw0 (0x[0-9a-f]+) dw1 (0x[0-9a-f]+) status (0x[0-9a-f]+)$/,
  createSq: /^pci_nvme_create_sq create submission queue, addr=(0x[0-9a-f]+), sqid=(\d+), cqid=(\d+), qsize=(\d+), qflags=(\d+)$/,
  createCq: /^pci_nvme_create_cq create completion queue, addr=(0x[0-9a-f]+), cqid=(\d+), vector=(\d+), qsize=(\d+), qflags=(\d+), ien=(\d+)$/,
  delSq: /^pci_nvme_del_sq deleting submission queue sqid=(\d+)$/,
  delCq: /^pci_nvme_del_cq deleted completion queue, cqid=(\d+)$/,
  mapPrp: /^pci_nvme_map_prp trans_len (\d+) len (\d+) prp1 (0x[0-9a-f]+) prp2 (0x[0-9a-f]+) num_prps (\d+)$/,
  rw: /^pci_nvme_(read|write) cid (\d+) (.*)count (\d+) lba (0x[0-9a-f]+)$/,
};

interface State {
  enabled: boolean;
  segment: 'seabios' | 'linux';
  /** entries per existing SQ / CQ */
  sq: ReadonlyMap<number, { size: number; cqid: number }>;
  cq: ReadonlyMap<number, number>;
  aer: boolean;
  aqa: number;
  asq: number;
}

/** The state before each line (states[i] is before lines[i]); linuxStart: first line of the Linux driver. */
function analyse(lines: string[], firstSegment: 'seabios' | 'linux'): { states: State[]; linuxStart: number } {
  let linuxStart = -1;
  for (let i = 0; i + 2 < lines.length; i++) {
    if (lines[i] === 'pci_nvme_mmio_write addr 0x14 data 0x0 size 4' && lines[i + 2] === 'pci_nvme_mmio_stopped cleared controller enable bit') {
      linuxStart = i;
      while (linuxStart > 0 && lines[linuxStart - 1]!.startsWith('pci_nvme_mmio_read ')) linuxStart--;
      break;
    }
  }
  const states: State[] = [];
  let s: State = { enabled: false, segment: firstSegment, sq: new Map(), cq: new Map(), aer: false, aqa: 0, asq: 0 };
  lines.forEach((l, i) => {
    if (i === linuxStart) s = { ...s, segment: 'linux' };
    states.push(s);
    let m: RegExpMatchArray | null;
    if (l.startsWith('pci_nvme_pci_reset') || l.startsWith('pci_nvme_mmio_stopped')) {
      s = { ...s, enabled: false, sq: new Map(), cq: new Map(), aer: false };
    } else if (l.startsWith('pci_nvme_mmio_start_success')) {
      s = { ...s, enabled: true, sq: new Map([[0, { size: (s.aqa & 0xfff) + 1, cqid: 0 }]]), cq: new Map([[0, ((s.aqa >>> 16) & 0xfff) + 1]]) };
    } else if ((m = l.match(RX.write))) {
      const addr = parseInt(m[1]!, 16);
      if (addr === 0x24) s = { ...s, aqa: parseInt(m[2]!, 16) };
      if (addr === 0x28) s = { ...s, asq: parseInt(m[2]!, 16) };
    } else if ((m = l.match(RX.createSq))) {
      const sq = new Map(s.sq);
      sq.set(Number(m[2]), { size: Number(m[4]) + 1, cqid: Number(m[3]) });
      s = { ...s, sq };
    } else if ((m = l.match(RX.createCq))) {
      const cq = new Map(s.cq);
      cq.set(Number(m[2]), Number(m[4]) + 1);
      s = { ...s, cq };
    } else if ((m = l.match(RX.delSq))) {
      const sq = new Map(s.sq);
      sq.delete(Number(m[1]));
      s = { ...s, sq };
    } else if ((m = l.match(RX.delCq))) {
      const cq = new Map(s.cq);
      cq.delete(Number(m[1]));
      s = { ...s, cq };
    } else if (l === 'pci_nvme_aer cid 31') {
      s = { ...s, aer: true };
    } else if ((m = l.match(RX.completion)) && m[1] === '31' && m[2] === '0') {
      s = { ...s, aer: false };
    }
  });
  return { states, linuxStart };
}

/** Lines QEMU 7.2 prints when it raises an Error AER for an invalid doorbell (only if an AER is outstanding). */
function errorAer(info: 0 | 1): string[] {
  return [
    `pci_nvme_enqueue_event type 0x0 info ${hex(info)} lid 0x1`,
    'pci_nvme_process_aers queued 1',
    `pci_nvme_aer_post_cqe type 0x0 info ${hex(info)} lid 0x1`,
    `pci_nvme_enqueue_req_completion cid 31 cqid 0 dw0 ${hex(0x10000 | (info << 8))} dw1 0x0 status 0x0`,
    'pci_nvme_irq_msix raising MSI-X IRQ vector 0',
  ];
}

/** Spread picks: first, last and a middle element (deduplicated, in order). */
function spread<T>(xs: T[], n = 3): T[] {
  if (xs.length <= n) return xs;
  const idx = new Set<number>([0, xs.length - 1]);
  for (let k = 1; idx.size < n; k++) idx.add(Math.floor((k * (xs.length - 1)) / n));
  return [...idx].sort((a, b) => a - b).map((i) => xs[i]!);
}

function findNext(lines: string[], from: number, pred: (l: string) => boolean, limit = 200): number {
  for (let j = from; j < Math.min(lines.length, from + limit); j++) if (pred(lines[j]!)) return j;
  return -1;
}

// ---------------------------------------------------------------- mutant builder

class Builder {
  readonly out: Mutant[] = [];
  constructor(
    private readonly trace: string,
    private readonly base: string[],
    private readonly states: State[],
    private readonly baseSegment: 'full' | 'linux-only',
  ) {}
  seg(i: number): Segment {
    return this.baseSegment === 'linux-only' ? 'linux-only' : this.states[i]!.segment;
  }
  state(i: number): State {
    return this.states[i]!;
  }
  /**
   * edits: index (0-based, in the base) -> replacement lines ([] deletes, [..] replaces, the original can be kept
   * by including it). target: base index of the line the finding must be on, plus offset into its replacement.
   */
  add(cls: MutantClass, rule: string, site: number, edits: Map<number, string[]>, target: { at: number; offset?: number }, note: string): void {
    const lines: string[] = [];
    let line = -1;
    this.base.forEach((l, i) => {
      const rep = edits.get(i);
      if (i === target.at) line = lines.length + (target.offset ?? 0) + 1;
      if (rep) lines.push(...rep);
      else lines.push(l);
    });
    if (line < 0) throw new Error(`${cls}: target line not found`);
    const segment = this.seg(site);
    let id = `${cls} ${this.trace} ${segment} l.${site + 1} -> ${rule}@${line}`;
    for (let k = 2; this.out.some((m) => m.id === id); k++) id = `${cls} ${this.trace} ${segment} l.${site + 1} -> ${rule}@${line} #${k}`;
    this.out.push({ id, cls, trace: this.trace, segment, rule, line, lines, note: `${note} (base line ${site + 1})` });
  }
}

type Gen = (b: Builder, lines: string[]) => void;

/** Doorbell writes QEMU accepted (echo on the next line): one site per segment x SQ/CQ x admin/I/O queue. */
function doorbellSites(b: Builder, lines: string[]): number[] {
  const by = new Map<string, number[]>();
  lines.forEach((l, i) => {
    const m = l.match(RX.write);
    if (!m || !/^pci_nvme_mmio_doorbell_(sq|cq) /.test(lines[i + 1] ?? '')) return;
    const addr = parseInt(m[1]!, 16);
    if (addr < 0x1000) return;
    const k = `${b.seg(i)}|${((addr - 0x1000) >> 2) & 1 ? 'cq' : 'sq'}|${(addr - 0x1000) >> 3 === 0 ? 'admin' : 'io'}`;
    by.set(k, [...(by.get(k) ?? []), i]);
  });
  return [...by.values()].map((xs) => xs[Math.floor(xs.length / 2)]!).sort((a, b) => a - b);
}

/** Sites of a kind, split per driver segment, spread over each segment. */
function sites(b: Builder, lines: string[], pred: (l: string, i: number) => boolean, perSegment = 2): number[] {
  const by = new Map<string, number[]>();
  lines.forEach((l, i) => {
    if (!pred(l, i)) return;
    const k = b.seg(i);
    by.set(k, [...(by.get(k) ?? []), i]);
  });
  return [...by.values()].flatMap((xs) => spread(xs, perSegment));
}

function adminRegMisaligned(reg: 'ASQ' | 'ACQ'): Gen {
  const lo = reg === 'ASQ' ? 0x28 : 0x30;
  const delta = reg === 'ASQ' ? 0x100 : 0x80;
  const echo = reg === 'ASQ' ? 'pci_nvme_mmio_asqaddr wrote MMIO, admin submission queue address=' : 'pci_nvme_mmio_acqaddr wrote MMIO, admin completion queue address=';
  const echoHi = reg === 'ASQ' ? 'pci_nvme_mmio_asqaddr_hi wrote MMIO, admin submission queue high half=' : 'pci_nvme_mmio_acqaddr_hi wrote MMIO, admin completion queue high half=';
  return (b, lines) => {
    for (const i of sites(b, lines, (l) => l.startsWith(`pci_nvme_mmio_write addr ${hex(lo)} data `))) {
      const v = parseInt(lines[i]!.match(RX.write)![2]!, 16);
      const nv = v + delta;
      if (!lines[i + 1]!.startsWith(echo) || !lines[i + 3]!.startsWith(echoHi)) throw new Error(`${reg} echo lines not where expected at ${i + 1}`);
      const edits = new Map<number, string[]>([
        [i, [`pci_nvme_mmio_write addr ${hex(lo)} data ${hex(nv)} size 4`]],
        [i + 1, [`${echo}${hex(nv)}`]],
        [i + 3, [lines[i + 3]!.replace(/new_address=0x[0-9a-f]+$/, `new_address=${hex(nv)}`)]],
      ]);
      b.add(reg === 'ASQ' ? 'asq-misaligned' : 'acq-misaligned', reg === 'ASQ' ? 'lifecycle-asq-aligned' : 'lifecycle-acq-aligned', i, edits, { at: i }, `${reg} ${hex(v)} -> ${hex(nv)}`);
    }
  };
}

const GENERATORS: Record<MutantClass, Gen> = {
  'asq-misaligned': adminRegMisaligned('ASQ'),
  'acq-misaligned': adminRegMisaligned('ACQ'),

  'admin-regs-while-enabled': (b, lines) => {
    // Before an admin SQ doorbell while the controller runs: the host rewrites AQA (same value) or ASQ.
    const cands = sites(b, lines, (l, i) => l.startsWith('pci_nvme_mmio_write addr 0x1000 ') && b.state(i).enabled, 2);
    cands.forEach((i, k) => {
      const s = b.state(i);
      const ins = k % 2 === 0
        ? [`pci_nvme_mmio_write addr 0x24 data ${hex(s.aqa)} size 4`, `pci_nvme_mmio_aqattr wrote MMIO, admin queue attributes=${hex(s.aqa)}`]
        : [`pci_nvme_mmio_write addr 0x28 data ${hex(s.asq)} size 4`, `pci_nvme_mmio_asqaddr wrote MMIO, admin submission queue address=${hex(s.asq)}`];
      b.add('admin-regs-while-enabled', 'lifecycle-admin-regs-while-disabled', i, new Map([[i, [...ins, lines[i]!]]]), { at: i }, `${k % 2 === 0 ? 'AQA' : 'ASQ'} rewritten while enabled`);
    });
  },

  'enable-before-admin-regs': (b, lines) => {
    // Only meaningful right after a PCI reset (AQA/ASQ/ACQ survive a controller reset, CC.EN 1->0).
    const enable = lines.findIndex((l) => l.startsWith('pci_nvme_mmio_start_success'));
    const ccWrite = enable - 3; // mmio_write 0x14, mmio_cfg, setfeat_timestamp, start_success
    if (!lines[ccWrite]!.startsWith('pci_nvme_mmio_write addr 0x14 ')) throw new Error('enable CC write not found');
    for (const [reg, addr, n] of [['AQA', 0x24, 2], ['ASQ', 0x28, 4], ['ACQ', 0x30, 4]] as const) {
      const at = lines.findIndex((l, i) => i < ccWrite && l.startsWith(`pci_nvme_mmio_write addr ${hex(addr)} `));
      const edits = new Map<number, string[]>();
      for (let k = 0; k < n; k++) edits.set(at + k, []);
      b.add('enable-before-admin-regs', 'lifecycle-admin-regs-before-enable', ccWrite, edits, { at: ccWrite }, `${reg} never written before CC.EN=1`);
    }
  },

  'doorbell-beyond-queue': (b, lines) => {
    for (const i of doorbellSites(b, lines)) {
      const m = lines[i]!.match(RX.write)!;
      const addr = parseInt(m[1]!, 16);
      const isCq = ((addr - 0x1000) >> 2) & 1;
      const qid = (addr - 0x1000) >> 3;
      const s = b.state(i);
      const size = isCq ? s.cq.get(qid) : s.sq.get(qid)?.size;
      if (size === undefined) continue;
      const ub = isCq
        ? `pci_nvme_ub_db_wr_invalid_cqhead completion queue doorbell write value beyond queue size, cqid=${qid}, new_head=${size}, ignoring`
        : `pci_nvme_ub_db_wr_invalid_sqtail submission queue doorbell write value beyond queue size, sqid=${qid}, new_head=${size}, ignoring`;
      const edits = new Map<number, string[]>([
        [i, [`pci_nvme_mmio_write addr ${m[1]} data ${hex(size)} size 4`]],
        [i + 1, [ub, ...(s.aer ? errorAer(1) : [])]],
      ]);
      b.add('doorbell-beyond-queue', 'queue-doorbell-in-range', i, edits, { at: i }, `${isCq ? 'CQ' : 'SQ'} ${qid} doorbell ${size} on a ${size}-entry queue`);
    }
  },

  'doorbell-missing-queue': (b, lines) => {
    for (const i of doorbellSites(b, lines)) {
      const m = lines[i]!.match(RX.write)!;
      const addr = parseInt(m[1]!, 16);
      const isCq = ((addr - 0x1000) >> 2) & 1;
      const s = b.state(i);
      const q = Math.max(...(isCq ? [...s.cq.keys()] : [...s.sq.keys()])) + 1;
      const naddr = 0x1000 + q * 8 + (isCq ? 4 : 0);
      const ub = isCq
        ? `pci_nvme_ub_db_wr_invalid_cq completion queue doorbell write for nonexistent queue, cqid=${q}, ignoring`
        : `pci_nvme_ub_db_wr_invalid_sq submission queue doorbell write for nonexistent queue, sqid=${q}, ignoring`;
      const edits = new Map<number, string[]>([
        [i, [`pci_nvme_mmio_write addr ${hex(naddr)} data ${m[2]} size 4`]],
        [i + 1, [ub, ...(s.aer ? errorAer(0) : [])]],
      ]);
      b.add('doorbell-missing-queue', 'queue-doorbell-exists', i, edits, { at: i }, `doorbell of ${isCq ? 'CQ' : 'SQ'} ${q}, which does not exist`);
    }
  },

  'doorbell-while-disabled': (b, lines) => {
    const cands = [0, lines.findIndex((l) => l.startsWith('pci_nvme_mmio_stopped'))].filter((i) => i >= 0);
    for (const i of cands) {
      for (const cq of [false, true]) {
        const ins = cq
          ? ['pci_nvme_mmio_write addr 0x1004 data 0x1 size 4', 'pci_nvme_ub_db_wr_invalid_cq completion queue doorbell write for nonexistent queue, cqid=0, ignoring']
          : ['pci_nvme_mmio_write addr 0x1000 data 0x1 size 4', 'pci_nvme_ub_db_wr_invalid_sq submission queue doorbell write for nonexistent queue, sqid=0, ignoring'];
        b.add('doorbell-while-disabled', 'queue-doorbell-enabled', i + 1, new Map([[i, [lines[i]!, ...ins]]]), { at: i, offset: 1 }, `admin ${cq ? 'CQ head' : 'SQ tail'} doorbell while CC.EN=0`);
      }
    }
  },

  'sq-missing-cq': (b, lines) => {
    for (const i of sites(b, lines, (l) => RX.createSq.test(l), 3)) {
      const m = lines[i]!.match(RX.createSq)!;
      const s = b.state(i);
      const cq = Math.max(...s.cq.keys()) + 1;
      const edits = rejectCreate(lines, i, lines[i]!.replace(/cqid=\d+/, `cqid=${cq}`), `pci_nvme_err_invalid_create_sq_cqid failed creating submission queue, invalid cqid=${cq}`, 0x4100, 0x1);
      b.add('sq-missing-cq', 'queue-sq-cq-exists', i, edits, { at: i }, `SQ ${m[2]} bound to CQ ${cq}, which does not exist`);
    }
  },

  'queue-base-misaligned': (b, lines) => {
    for (const i of sites(b, lines, (l) => RX.createSq.test(l) || RX.createCq.test(l), 2)) {
      const sq = RX.createSq.test(lines[i]!);
      const addr = parseInt(lines[i]!.match(/addr=(0x[0-9a-f]+)/)![1]!, 16);
      const na = hex(addr + (sq ? 0x100 : 0x10));
      const err = sq ? `pci_nvme_err_invalid_create_sq_addr failed creating submission queue, addr=${na}` : `pci_nvme_err_invalid_create_cq_addr failed creating completion queue, addr=${na}`;
      const edits = rejectCreate(lines, i, lines[i]!.replace(/addr=0x[0-9a-f]+/, `addr=${na}`), err, 0x4013, sq ? 0x1 : 0x5);
      b.add('queue-base-misaligned', sq ? 'queue-base-aligned' : 'queue-cq-base-aligned', i, edits, { at: i }, `${sq ? 'SQ' : 'CQ'} base ${na}`);
    }
  },

  'qsize-gt-mqes': (b, lines) => {
    for (const i of sites(b, lines, (l) => RX.createSq.test(l) || RX.createCq.test(l), 2)) {
      const sq = RX.createSq.test(lines[i]!);
      const err = sq ? 'pci_nvme_err_invalid_create_sq_size failed creating submission queue, invalid qsize=2048' : 'pci_nvme_err_invalid_create_cq_size failed creating completion queue, size=2048';
      const edits = rejectCreate(lines, i, lines[i]!.replace(/qsize=\d+/, 'qsize=2048'), err, 0x4102, sq ? 0x1 : 0x5);
      b.add('qsize-gt-mqes', sq ? 'queue-size-valid' : 'queue-cq-size-valid', i, edits, { at: i }, `${sq ? 'SQ' : 'CQ'} QSIZE 2048 > MQES 2047`);
    }
  },

  'duplicate-queue-id': (b, lines) => {
    for (const i of sites(b, lines, (l) => RX.createSq.test(l) || RX.createCq.test(l), 2)) {
      const sq = RX.createSq.test(lines[i]!);
      const cmd = lines[i - 1]!.match(RX.adminCmd);
      if (!cmd) continue;
      const cid = cmd[1]!;
      const done = findNext(lines, i, (l) => l.startsWith(`pci_nvme_enqueue_req_completion cid ${cid} cqid 0 `));
      if (done < 0) continue;
      const next = findNext(lines, done, (l) => l.startsWith('pci_nvme_mmio_write') || l.startsWith('pci_nvme_admin_cmd'));
      if (next < 0) continue;
      const qid = lines[i]!.match(sq ? /sqid=(\d+)/ : /cqid=(\d+)/)![1]!;
      const ins = [
        lines[i - 1]!,
        lines[i]!,
        sq ? `pci_nvme_err_invalid_create_sq_sqid failed creating submission queue, invalid sqid=${qid}` : `pci_nvme_err_invalid_create_cq_cqid failed creating completion queue, cqid=${qid}`,
        `pci_nvme_enqueue_req_completion cid ${cid} cqid 0 dw0 0x0 dw1 0x0 status 0x4101`,
        `pci_nvme_err_req_status cid ${cid} nsid 0 status 0x4101 opc ${sq ? '0x1' : '0x5'}`,
      ];
      b.add('duplicate-queue-id', sq ? 'queue-id-unique' : 'queue-cq-id-unique', next, new Map([[next, [...ins, lines[next]!]]]), { at: next, offset: 1 }, `${sq ? 'SQ' : 'CQ'} ${qid} created a second time`);
    }
  },

  'cid-reused-outstanding': (b, lines) => {
    // (a) an admin command reuses cid 31 while the AER (cid 31) is outstanding.
    const adm = sites(b, lines, (l, i) => RX.adminCmd.test(l) && b.state(i).aer && !l.startsWith('pci_nvme_admin_cmd cid 31 '), 2);
    for (const i of adm) {
      const cid = lines[i]!.match(RX.adminCmd)![1]!;
      const done = findNext(lines, i, (l) => l.startsWith(`pci_nvme_enqueue_req_completion cid ${cid} cqid 0 `));
      const edits = new Map<number, string[]>();
      for (let j = i; j <= done; j++) if (new RegExp(`\\bcid ${cid}\\b`).test(lines[j]!)) edits.set(j, [lines[j]!.replace(new RegExp(`\\bcid ${cid}\\b`), 'cid 31')]);
      b.add('cid-reused-outstanding', 'cmd-cid-unique', i, edits, { at: i }, `admin cid ${cid} -> 31 while the AER (cid 31) is outstanding`);
    }
    // (b) an I/O command takes the cid of another command still outstanding on the same SQ.
    const live = new Map<number, Map<string, number>>();
    const pairs: [number, string][] = [];
    lines.forEach((l, i) => {
      let m: RegExpMatchArray | null;
      if ((m = l.match(RX.ioCmd))) {
        const sq = Number(m[3]);
        const other = [...(live.get(sq)?.keys() ?? [])].find((c) => c !== m![1]);
        if (other !== undefined) pairs.push([i, other]);
        const map = live.get(sq) ?? new Map<string, number>();
        map.set(m[1]!, i);
        live.set(sq, map);
      } else if ((m = l.match(RX.completion)) && m[2] !== '0') {
        live.get(Number(m[2]))?.delete(m[1]!);
      } else if (l.startsWith('pci_nvme_pci_reset') || l.startsWith('pci_nvme_mmio_stopped')) live.clear();
    });
    for (const [i, other] of spread(pairs, 3)) {
      const m = lines[i]!.match(RX.ioCmd)!;
      const cid = m[1]!;
      const done = findNext(lines, i, (l) => l.startsWith(`pci_nvme_enqueue_req_completion cid ${cid} cqid `), 2000);
      const edits = new Map<number, string[]>([[i, [lines[i]!.replace(`cid ${cid} `, `cid ${other} `)]]]);
      for (let j = i + 1; j <= done; j++) {
        const l = lines[j]!;
        if (/^pci_nvme_(read|write|rw_cb|rw_complete_cb|misc_cb|enqueue_req_completion) cid /.test(l) && l.includes(`cid ${cid} `)) edits.set(j, [l.replace(`cid ${cid} `, `cid ${other} `)]);
      }
      b.add('cid-reused-outstanding', 'cmd-cid-unique', i, edits, { at: i }, `I/O cid ${cid} -> ${other}, outstanding on SQ ${m[3]}`);
    }
  },

  'completion-without-command': (b, lines) => {
    for (const i of sites(b, lines, (l) => RX.completion.test(l) && !l.startsWith('pci_nvme_enqueue_req_completion cid 31 '), 3)) {
      b.add('completion-without-command', 'cmd-completion-matches', i, new Map([[i, [lines[i]!, lines[i]!]]]), { at: i, offset: 1 }, 'the completion is posted a second time');
    }
  },

  'io-on-missing-queue': (b, lines) => {
    // (a) the host rings SQ n's doorbell after deleting SQ n (QEMU: nonexistent queue).
    for (const i of sites(b, lines, (l) => RX.delSq.test(l), 2)) {
      const q = Number(lines[i]!.match(RX.delSq)![1]);
      const next = findNext(lines, i + 1, (l) => l.startsWith('pci_nvme_mmio_write') || l.startsWith('pci_nvme_admin_cmd'));
      const s = b.state(next);
      const ins = [`pci_nvme_mmio_write addr ${hex(0x1000 + q * 8)} data 0x1 size 4`, `pci_nvme_ub_db_wr_invalid_sq submission queue doorbell write for nonexistent queue, sqid=${q}, ignoring`, ...(s.aer ? errorAer(0) : [])];
      b.add('io-on-missing-queue', 'queue-doorbell-exists', next, new Map([[next, [...ins, lines[next]!]]]), { at: next }, `SQ ${q} doorbell after SQ ${q} was deleted`);
    }
    // (b) a read/write names an SQ that was never created (a controller-side view QEMU 7.2 cannot print).
    for (const i of sites(b, lines, (l) => RX.ioCmd.test(l), 2)) {
      const m = lines[i]!.match(RX.ioCmd)!;
      const q = Math.max(...b.state(i).sq.keys()) + 1;
      b.add('io-on-missing-queue', 'cmd-queue-exists', i, new Map([[i, [lines[i]!.replace(`sqid ${m[3]} `, `sqid ${q} `)]]]), { at: i }, `I/O cid ${m[1]} on SQ ${q}, never created`);
    }
  },

  'cq-deleted-before-sq': (b, lines) => {
    // Before the first Delete I/O SQ, the host deletes that SQ's CQ. QEMU 7.2 refuses (not empty, status 0x10c)
    // and prints the CQ id only in its error line (pci_nvme_del_cq is printed on success only): the finding
    // belongs there.
    for (const i of sites(b, lines, (l) => l.startsWith('pci_nvme_admin_cmd ') && l.endsWith("'NVME_ADM_CMD_DELETE_SQ'"), 2)) {
      const sqid = Number(lines[i + 1]!.match(RX.delSq)![1]);
      const cqid = b.state(i).sq.get(sqid)?.cqid ?? sqid;
      const cid = lines[i]!.match(RX.adminCmd)![1]!;
      const ins = [
        `pci_nvme_admin_cmd cid ${cid} sqid 0 opc 0x4 opname 'NVME_ADM_CMD_DELETE_CQ'`,
        `pci_nvme_err_invalid_del_cq_notempty failed deleting completion queue, it is not empty, cqid=${cqid}`,
        `pci_nvme_enqueue_req_completion cid ${cid} cqid 0 dw0 0x0 dw1 0x0 status 0x10c`,
        `pci_nvme_err_req_status cid ${cid} nsid 0 status 0x10c opc 0x4`,
      ];
      b.add('cq-deleted-before-sq', 'queue-delete-order', i, new Map([[i, [...ins, lines[i]!]]]), { at: i, offset: 1 }, `CQ ${cqid} deleted before SQ ${sqid}`);
    }
  },

  'prp1-unaligned': (b, lines) => {
    const ok = (l: string): boolean => {
      const m = l.match(RX.mapPrp);
      if (!m) return false;
      const [trans, len, prp1] = [Number(m[1]), Number(m[2]), parseInt(m[3]!, 16)];
      return trans === len && (prp1 % 4096) + len + 2 <= 4096;
    };
    for (const i of sites(b, lines, ok, 3)) {
      const m = lines[i]!.match(RX.mapPrp)!;
      const np = hex(parseInt(m[3]!, 16) + 2);
      if (!lines[i + 1]!.startsWith(`pci_nvme_map_addr addr ${m[3]} `)) continue;
      const edits = new Map<number, string[]>([
        [i, [lines[i]!.replace(`prp1 ${m[3]} `, `prp1 ${np} `)]],
        [i + 1, [lines[i + 1]!.replace(`addr ${m[3]} `, `addr ${np} `)]],
      ]);
      b.add('prp1-unaligned', 'prp-prp1-dword-aligned', i, edits, { at: i }, `PRP1 ${m[3]} -> ${np}`);
    }
  },

  'prp2-misaligned': (b, lines) => {
    const two = (l: string): boolean => {
      const m = l.match(RX.mapPrp);
      return !!m && Number(m[2]) - Number(m[1]) > 0 && Number(m[2]) - Number(m[1]) <= 4096;
    };
    for (const i of sites(b, lines, two, 3)) {
      const m = lines[i]!.match(RX.mapPrp)!;
      const np = hex(parseInt(m[4]!, 16) + 0x200);
      const cmd = findBack(lines, i, RX.ioCmd);
      if (cmd < 0) continue;
      const im = lines[cmd]!.match(RX.ioCmd)!;
      const cid = im[1]!;
      const done = findNext(lines, i, (l) => l.startsWith(`pci_nvme_enqueue_req_completion cid ${cid} cqid `));
      if (done < 0 || !lines[i + 2]!.startsWith(`pci_nvme_map_addr addr ${m[4]} `)) continue;
      const edits = new Map<number, string[]>([
        [i, [lines[i]!.replace(`prp2 ${m[4]} `, `prp2 ${np} `)]],
        [i + 2, [`pci_nvme_err_invalid_prp2_align PRP2 is not page aligned: ${np}`]],
      ]);
      for (let j = i + 3; j < done; j++) if (lines[j] === `pci_nvme_rw_cb cid ${cid} blk 'nvm'` || lines[j] === `pci_nvme_rw_complete_cb cid ${cid} blk 'nvm'`) edits.set(j, []);
      edits.set(done, [lines[done]!.replace(/status 0x[0-9a-f]+$/, 'status 0x4013'), `pci_nvme_err_req_status cid ${cid} nsid 1 status 0x4013 opc ${im[4]}`]);
      b.add('prp2-misaligned', 'prp-prp2-page-aligned', i, edits, { at: i }, `PRP2 ${m[4]} -> ${np}`);
    }
  },

  'prp-list-misaligned': (b, lines) => {
    const list = (l: string): boolean => {
      const m = l.match(RX.mapPrp);
      return !!m && Number(m[2]) - Number(m[1]) > 4096;
    };
    for (const i of sites(b, lines, list, 3)) {
      const m = lines[i]!.match(RX.mapPrp)!;
      const np = hex(parseInt(m[4]!, 16) + 4);
      b.add('prp-list-misaligned', 'prp-list-pointer-aligned', i, new Map([[i, [lines[i]!.replace(`prp2 ${m[4]} `, `prp2 ${np} `)]]]), { at: i }, `PRP list pointer ${m[4]} -> ${np}`);
    }
  },

  'data-length-mismatch': (b, lines) => {
    // (a) the read/write reports a byte count that is not NLB x 512.
    for (const i of sites(b, lines, (l) => RX.rw.test(l) && !l.includes('WRITE_ZEROES'), 2)) {
      const m = lines[i]!.match(RX.rw)!;
      const count = Number(m[4]);
      b.add('data-length-mismatch', 'cmd-data-length', i, new Map([[i, [lines[i]!.replace(`count ${count} `, `count ${count - 512 || 256} `)]]]), { at: i }, `count ${count} -> ${count - 512 || 256}`);
    }
    // (b) the PRPs describe half of the transfer.
    const single = (l: string, i: number): boolean => {
      const m = l.match(RX.mapPrp);
      return !!m && m[1] === m[2] && m[4] === '0x0' && RX.rw.test(lines[i - 1] ?? '');
    };
    for (const i of sites(b, lines, single, 2)) {
      const m = lines[i]!.match(RX.mapPrp)!;
      const len = Number(m[2]) / 2;
      const edits = new Map<number, string[]>([
        [i, [`pci_nvme_map_prp trans_len ${len} len ${len} prp1 ${m[3]} prp2 0x0 num_prps ${(len >> 12) + 1}`]],
        [i + 1, [lines[i + 1]!.replace(/len \d+$/, `len ${len}`)]],
      ]);
      b.add('data-length-mismatch', 'prp-length-matches-command', i, edits, { at: i }, `PRPs map ${len} of ${m[2]} bytes`);
    }
  },

  'cc-mps-out-of-range': (b, lines) => {
    for (const i of sites(b, lines, (l, i) => l.startsWith('pci_nvme_mmio_write addr 0x14 ') && (lines[i + 3] ?? '').startsWith('pci_nvme_mmio_start_success'), 2)) {
      const v = parseInt(lines[i]!.match(RX.write)![2]!, 16);
      const nv = (v & ~(0xf << 7)) | (5 << 7);
      const edits = new Map<number, string[]>([
        [i, [`pci_nvme_mmio_write addr 0x14 data ${hex(nv)} size 4`]],
        [i + 1, [`pci_nvme_mmio_cfg wrote MMIO, config controller config=${hex(nv)}`]],
      ]);
      b.add('cc-mps-out-of-range', 'lifecycle-mps-in-range', i, edits, { at: i }, `CC ${hex(v)} -> ${hex(nv)} (MPS=5 > MPSMAX=4)`);
    }
  },
};

function findBack(lines: string[], from: number, rx: RegExp, limit = 20): number {
  for (let j = from; j >= Math.max(0, from - limit); j--) if (rx.test(lines[j]!)) return j;
  return -1;
}

/** A Create I/O SQ/CQ that QEMU rejects: the create line (mutated), QEMU's error, the error completion. */
function rejectCreate(lines: string[], i: number, created: string, err: string, status: number, opc: number): Map<number, string[]> {
  const cmd = lines[i - 1]!.match(RX.adminCmd);
  if (!cmd) throw new Error(`no admin_cmd before line ${i + 1}`);
  const cid = cmd[1]!;
  const done = findNext(lines, i, (l) => l.startsWith(`pci_nvme_enqueue_req_completion cid ${cid} cqid 0 `));
  return new Map<number, string[]>([
    [i, [created, err]],
    [done, [lines[done]!.replace(/status 0x[0-9a-f]+$/, `status ${hex(status)}`), `pci_nvme_err_req_status cid ${cid} nsid 0 status ${hex(status)} opc ${hex(opc)}`]],
  ]);
}

/** The Linux part of a trace as if Linux were the only driver: the PCI reset line, then Linux from its first access. */
export function linuxOnly(lines: string[]): string[] {
  const { linuxStart } = analyse(lines, 'seabios');
  if (linuxStart < 0) throw new Error('no Linux part');
  return [lines[0]!, ...lines.slice(linuxStart).filter((l, k) => !(k < 12 && l === 'pci_nvme_mmio_stopped cleared controller enable bit'))];
}

/** Every mutant of one real trace (both drivers), plus the PCI-reset-dependent classes on its linux-only cut. */
export function mutantsFor(trace: string, lines: string[]): Mutant[] {
  const out: Mutant[] = [];
  const full = new Builder(trace, lines, analyse(lines, 'seabios').states, 'full');
  for (const gen of Object.values(GENERATORS)) gen(full, lines);
  out.push(...full.out);
  const cut = linuxOnly(lines);
  const lo = new Builder(trace, cut, analyse(cut, 'linux').states, 'linux-only');
  for (const cls of ['enable-before-admin-regs', 'doorbell-while-disabled'] as MutantClass[]) GENERATORS[cls](lo, cut);
  out.push(...lo.out);
  return out;
}
