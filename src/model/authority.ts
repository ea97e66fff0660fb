import type { SourceRef } from '../findings/finding.js';
import type { Ev } from '../normalise/event.js';
import type { RuleEngine } from '../rules/engine.js';
import type { Scope, Value } from '../rules/expr.js';
import { decodeCc } from './controller.js';

/**
 * The DMA authority of a brokered driver on a no-IOMMU, bounce-buffer lane (GCP storage note §3 "Brokered DMA",
 * §5; seeds 000/001 §3): the device manager owns a DMA ledger and materialises every device-visible address
 * from it; the provider holds capability handles (DeviceMmio, Interrupt, DMAPool) and sees data bytes, never
 * addresses; the kernel binds and tears down.
 *
 * This model replays the same normalised event stream as the controller model, beside it, and announces hooks
 * to the same rule engine (rules: specs/rules/authority.yaml):
 *  - authority.address    every address-bearing value when it is authored or used: who wrote it, the live
 *                         ledger region holding it, whether its whole extent fits;
 *  - authority.placement  once per address, where it lies: a live region, a freed region (stale), a region
 *                         allocated only later, or none. Addresses outside every region are held until a
 *                         later ledger.alloc or the end of the trace decides between "before allocation" and
 *                         "outside the ledger";
 *  - authority.reg-write / authority.cc-write / authority.doorbell   who wrote registers and doorbells;
 *  - authority.stale      doorbells, completions and interrupt waits/acks, with whether what they refer to
 *                         (queue, handle) was torn down;
 *  - authority.exposure   the lane's exposure flags (dma.policy).
 * State is live regions, handles and queues, plus bounded memories of freed regions, revoked handles and
 * unresolved addresses: never proportional to the trace.
 */

const REGS: Record<number, { name: string; high: boolean }> = {
  0x0c: { name: 'INTMS', high: false },
  0x10: { name: 'INTMC', high: false },
  0x14: { name: 'CC', high: false },
  0x20: { name: 'NSSR', high: false },
  0x24: { name: 'AQA', high: false },
  0x28: { name: 'ASQ', high: false },
  0x2c: { name: 'ASQ', high: true },
  0x30: { name: 'ACQ', high: false },
  0x34: { name: 'ACQ', high: true },
};

/** Bounds on what is remembered past its life (freed regions, revoked handles, unresolved addresses). */
const MEMORY = 4096;
const MAX_PENDING = 10_000;

interface Region {
  id: string;
  base: number;
  len: number;
  end: number; // exclusive
  owner: string;
  purpose: string;
  pool?: string;
  ref: SourceRef;
  baseValue: Value;
}

interface Ended {
  ref: SourceRef;
  /** How it ended: "deleted", "torn down by the controller reset (CC.EN 1->0)", "revoked by teardown (provider-exit)". */
  how: string;
}

type Placement = 'live' | 'freed' | 'revoked' | 'later' | 'never' | 'mismatch';

interface AddressUse {
  kind: string;
  what: string;
  addr: Value;
  a: number;
  len: number;
  author: string | null;
  source: 'register' | 'command' | 'prp-list' | 'msix';
  claimed?: string;
  ev: Ev;
  related: SourceRef[];
}

interface Current {
  sqid: number;
  cid: number;
  line: number;
  raw: string;
  /** Bytes still to be described by PRP list entries, and the list page expected next. */
  remaining?: number;
  expectList?: number;
}

interface AdminReg {
  lo?: number;
  hi: number;
  ev?: Ev;
  author?: string;
  ledger?: string;
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
}
function str(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}
/** 'sq1' -> 'SQ 1'. */
function qname(q: string): string {
  return `${q.slice(0, 2).toUpperCase()} ${q.slice(2)}`;
}
function hex(n: number): string {
  return '0x' + n.toString(16);
}

export interface AuthorityOptions {
  /** CAP.DSTRD: doorbell offsets to queues. */
  dstrd: number;
  /** The lane the header declares (bounce-buffer, direct-remapping). */
  lane?: string;
}

export class AuthorityModel {
  private cc = 0;
  private enabled = false;
  private aqa = 0;
  private asq: AdminReg = { hi: 0 };
  private acq: AdminReg = { hi: 0 };
  private readonly live = new Map<string, Region>();
  private sorted: Region[] = [];
  private sortedDirty = false;
  private readonly freed = new Map<string, { region: Region; ref: SourceRef }>();
  private readonly handles = new Map<string, { cap: string; holder: string; ref: SourceRef }>();
  private readonly revoked = new Map<string, Ended>();
  private readonly liveQueues = new Map<string, SourceRef>(); // 'sq1' / 'cq1'
  private readonly tornQueues = new Map<string, Ended>();
  private readonly sqToCq = new Map<number, number>();
  private pending: AddressUse[] = [];
  private current?: Current;
  /** Delete I/O SQ/CQ commands awaiting their completion, by CID on the admin queue. */
  private readonly pendingDeletes = new Map<number, () => void>();
  private readonly stride: number;

  constructor(
    private readonly file: string,
    private readonly engine: RuleEngine,
    private readonly opts: AuthorityOptions,
  ) {
    this.stride = 4 << opts.dstrd;
  }

  private ref(ev: Ev, note: string): SourceRef {
    return { file: this.file, line: ev.line, raw: ev.raw, note };
  }
  private pageSize(): number {
    return 4096 * 2 ** decodeCc(this.cc).mps;
  }

  consume(ev: Ev): void {
    switch (ev.kind) {
      case 'reg.write':
        return this.regWrite(ev);
      case 'ctrl.reset':
        return this.reset(ev, `a PCI reset (${String(ev.f.why ?? 'pci')})`, true);
      case 'host.doorbell':
        return this.doorbell(ev);
      case 'cmd.submit':
        this.current = { sqid: num(ev.f.sqid), cid: num(ev.f.cid), line: ev.line, raw: ev.raw };
        return;
      case 'cmd.create_cq':
      case 'cmd.create_sq':
        return this.createQueue(ev);
      case 'cmd.delete_sq':
      case 'cmd.delete_cq': {
        // The queue ends when its Delete command completes successfully (a failed delete leaves it live).
        const q = `${ev.kind === 'cmd.delete_sq' ? 'sq' : 'cq'}${num(ev.f.qid)}`;
        const cmd = this.current;
        if (num(ev.f.qid) === 0) return;
        const ref = this.ref(ev, `${qname(q)} deleted here`);
        if (cmd && cmd.sqid === 0) {
          this.pendingDeletes.set(cmd.cid, () => this.endQueue(q, ref, 'deleted'));
          if (this.pendingDeletes.size > MEMORY) this.pendingDeletes.delete(this.pendingDeletes.keys().next().value!);
        } else this.endQueue(q, ref, 'deleted');
        return;
      }
      case 'cmd.prp':
        return this.prp(ev);
      case 'cmd.dbbuf':
        return this.dbbuf(ev);
      case 'prp.list':
        return this.prpList(ev);
      case 'prp.entry':
        return this.prpEntry(ev);
      case 'msix.entry':
        return this.address({
          kind: 'msix',
          what: `MSI-X vector ${num(ev.f.vector)} message address`,
          addr: ev.f.addr as Value,
          a: num(ev.f.addr),
          len: 4,
          author: ev.author ?? null,
          source: 'msix',
          claimed: str(ev.f.ledger),
          ev,
          related: [],
        });
      case 'cmd.complete':
        return this.completion(ev);
      case 'irq.wait':
      case 'irq.ack':
        return this.interrupt(ev);
      case 'ledger.alloc':
        return this.alloc(ev);
      case 'ledger.free':
        return this.free(ev);
      case 'handle.grant': {
        const h = String(ev.f.handle);
        this.handles.set(h, { cap: String(ev.f.cap), holder: String(ev.f.holder), ref: this.ref(ev, `handle ${h} granted here`) });
        this.revoked.delete(h);
        return;
      }
      case 'handle.revoke':
        return this.revoke(String(ev.f.handle), this.ref(ev, `handle ${String(ev.f.handle)} revoked here`), `revoked${ev.f.why !== undefined ? ` (${String(ev.f.why)})` : ''}`);
      case 'teardown':
        return this.teardown(ev);
      case 'dma.policy':
        return this.exposure(ev);
      default:
        return;
    }
  }

  /** Addresses still unplaced at the end of the trace lie in no ledger region. */
  finish(): void {
    const left = this.pending;
    this.pending = [];
    for (const u of left) this.place(u, 'never', undefined, []);
  }

  // ---------------------------------------------------------------------------------------- registers

  private regWrite(ev: Ev): void {
    const offset = num(ev.f.offset);
    const value = num(ev.f.value);
    const reg = REGS[offset];
    const author = ev.author ?? null;
    if (this.engine.hasHook('authority.reg-write')) {
      this.engine.fire('authority.reg-write', { reg: reg?.name ?? null, high: reg?.high ?? false, offset, value, author, enabled: this.enabled }, { ev, binding: () => `reg=${reg?.name ?? hex(offset)},by=${String(author)}` });
    }
    if (!reg) return;
    switch (reg.name) {
      case 'CC': {
        const old = decodeCc(this.cc);
        const next = decodeCc(value);
        if (this.engine.hasHook('authority.cc-write')) {
          this.engine.fire('authority.cc-write', { author, value, old: { ...old }, new: { ...next }, enabled: this.enabled }, { ev, binding: () => `reg=CC,by=${String(author)}` });
        }
        this.cc = value;
        if (old.en === 0 && next.en === 1) this.enable(ev);
        else if (old.en === 1 && next.en === 0) this.reset(ev, 'the controller reset (CC.EN 1->0)', false);
        return;
      }
      case 'AQA':
        this.aqa = value;
        return;
      case 'ASQ':
      case 'ACQ': {
        const r = reg.name === 'ASQ' ? this.asq : this.acq;
        if (reg.high) r.hi = value;
        else {
          r.lo = value;
          r.ev = ev;
          r.author = ev.author;
          r.ledger = str(ev.f.ledger);
        }
        return;
      }
      default:
        return;
    }
  }

  /** CC.EN 0->1: the controller latches ASQ/ACQ and uses them; the admin queues become live. */
  private enable(ev: Ev): void {
    this.enabled = true;
    const enableRef = this.ref(ev, 'controller enabled here (CC.EN 0->1): the admin queues are used from here');
    for (const q of ['sq0', 'cq0']) {
      this.liveQueues.set(q, enableRef);
      this.tornQueues.delete(q);
    }
    const check = (r: AdminReg, kind: 'asq' | 'acq'): void => {
      if (r.lo === undefined || !r.ev) return;
      const a = r.lo + r.hi * 2 ** 32;
      const entries = kind === 'asq' ? (this.aqa & 0xfff) + 1 : ((this.aqa >>> 16) & 0xfff) + 1;
      this.address({
        kind,
        what: kind === 'asq' ? 'ASQ (admin submission queue base)' : 'ACQ (admin completion queue base)',
        addr: a,
        a,
        len: entries * (kind === 'asq' ? 64 : 16),
        author: r.author ?? null,
        source: 'register',
        claimed: r.ledger,
        ev: r.ev,
        related: [enableRef],
      });
    };
    check(this.asq, 'asq');
    check(this.acq, 'acq');
  }

  /** Controller or PCI reset: every queue is torn down (a PCI reset also clears the admin queue registers). */
  private reset(ev: Ev, why: string, pci: boolean): void {
    this.enabled = false;
    const ref = this.ref(ev, `${why} here tears the queues down`);
    for (const q of [...this.liveQueues.keys()]) this.endQueue(q, ref, `torn down by ${why}`);
    this.current = undefined;
    this.pendingDeletes.clear();
    if (pci) {
      this.cc = 0;
      this.aqa = 0;
      this.asq = { hi: 0 };
      this.acq = { hi: 0 };
    }
  }

  private endQueue(q: string, ref: SourceRef, how: string): void {
    this.liveQueues.delete(q);
    this.tornQueues.set(q, { ref, how });
  }

  // ---------------------------------------------------------------------------------------- doorbells, completions, interrupts

  private doorbell(ev: Ev): void {
    const offset = num(ev.f.offset);
    const index = Math.floor((offset - 0x1000) / this.stride);
    const qid = index >> 1;
    const queue = index & 1 ? 'cq' : 'sq';
    const author = ev.author ?? null;
    const what = `${queue.toUpperCase()} ${qid} doorbell`;
    if (this.engine.hasHook('authority.doorbell')) {
      this.engine.fire('authority.doorbell', { author, queue, qid, value: num(ev.f.value), what }, { ev, binding: () => `${queue}=${qid},by=${String(author)}` });
    }
    if (!this.engine.hasHook('authority.stale')) return;
    const handle = str(ev.f.handle);
    const h = handle !== undefined ? this.handleState(handle) : undefined;
    const q = this.queueState(`${queue}${qid}`);
    const stale = h?.stale ? h : q;
    this.engine.fire(
      'authority.stale',
      { use: 'doorbell', what, queue, qid, handle: handle ?? null, author, stale: stale.stale, why: stale.why },
      { ev, binding: () => `${queue}=${qid}`, related: stale.related },
    );
  }

  private completion(ev: Ev): void {
    const cqid0 = ev.f.cqid !== undefined ? num(ev.f.cqid) : undefined;
    if ((cqid0 === 0 || (cqid0 === undefined && num(ev.f.sqid) === 0)) && this.pendingDeletes.size) {
      const effect = this.pendingDeletes.get(num(ev.f.cid));
      this.pendingDeletes.delete(num(ev.f.cid));
      if (effect && num(ev.f.status) === 0) effect();
    }
    if (!this.engine.hasHook('authority.stale')) return;
    const cqid = ev.f.cqid !== undefined ? num(ev.f.cqid) : this.sqToCq.get(num(ev.f.sqid)) ?? (num(ev.f.sqid) === 0 ? 0 : undefined);
    if (cqid === undefined) return;
    const q = this.queueState(`cq${cqid}`);
    this.engine.fire(
      'authority.stale',
      { use: 'completion', what: `completion for cid ${num(ev.f.cid)} on CQ ${cqid}`, queue: 'cq', qid: cqid, handle: null, author: ev.author ?? null, stale: q.stale, why: q.why },
      { ev, binding: () => `cq=${cqid},cid=${num(ev.f.cid)}`, related: q.related },
    );
  }

  private interrupt(ev: Ev): void {
    if (!this.engine.hasHook('authority.stale')) return;
    const handle = String(ev.f.handle);
    const h = this.handleState(handle);
    const op = ev.kind === 'irq.wait' ? 'wait' : 'acknowledge';
    this.engine.fire(
      'authority.stale',
      { use: 'interrupt', op, what: `Interrupt.${op} on handle ${handle}`, handle, vector: ev.f.vector ?? null, author: ev.author ?? null, stale: h.stale, why: h.why },
      { ev, binding: () => `handle=${handle},${op}`, related: h.related },
    );
  }

  private queueState(q: string): { stale: boolean; why: string; related: SourceRef[] } {
    if (this.liveQueues.has(q)) return { stale: false, why: '', related: [] };
    const t = this.tornQueues.get(q);
    // A queue that never existed is the wire rules' business (queue-doorbell-exists, cmd-completion-matches).
    if (!t) return { stale: false, why: '', related: [] };
    return { stale: true, why: `${qname(q)} was ${t.how} at line ${t.ref.line}`, related: [t.ref] };
  }

  private handleState(handle: string): { stale: boolean; why: string; related: SourceRef[] } {
    if (this.handles.has(handle)) return { stale: false, why: '', related: [] };
    const r = this.revoked.get(handle);
    if (r) return { stale: true, why: `handle ${handle} was ${r.how} at line ${r.ref.line}`, related: [r.ref] };
    return { stale: true, why: `handle ${handle} was never granted`, related: [] };
  }

  private revoke(handle: string, ref: SourceRef, how: string): void {
    this.handles.delete(handle);
    this.revoked.delete(handle);
    this.revoked.set(handle, { ref, how });
    if (this.revoked.size > MEMORY) this.revoked.delete(this.revoked.keys().next().value!);
  }

  private teardown(ev: Ev): void {
    const why = String(ev.f.why);
    const ref = this.ref(ev, `teardown (${why}) here`);
    const handles = ev.f.handles !== undefined ? String(ev.f.handles).split(',') : [...this.handles.keys()];
    for (const h of handles) this.revoke(h, ref, `revoked by teardown (${why})`);
    if (ev.f.queues !== undefined) {
      const qs = String(ev.f.queues).split(',');
      const all = qs.includes('all');
      for (const q of all ? [...this.liveQueues.keys()] : qs) this.endQueue(q, ref, `torn down by teardown (${why})`);
    }
  }

  // ---------------------------------------------------------------------------------------- commands

  private createQueue(ev: Ev): void {
    const cq = ev.kind === 'cmd.create_cq';
    const qid = num(cq ? ev.f.cqid : ev.f.sqid);
    const q = `${cq ? 'cq' : 'sq'}${qid}`;
    if (qid !== 0) {
      this.liveQueues.set(q, this.ref(ev, `${qname(q)} created here`));
      this.tornQueues.delete(q);
      if (!cq) this.sqToCq.set(qid, num(ev.f.cqid));
    }
    if (ev.f.addr === undefined) return;
    const cc = decodeCc(this.cc);
    const entrySize = cq ? 2 ** (cc.iocqes || 4) : 2 ** (cc.iosqes || 6);
    const bytes = (num(ev.f.qsize) + 1) * entrySize;
    const page = this.pageSize();
    const a = num(ev.f.addr);
    // PC=0: PRP1 is a PRP list of the queue's pages.
    const len = ev.f.pc === true ? bytes : Math.min(Math.ceil(bytes / page) * 8, page - (a % page));
    this.address({
      kind: cq ? 'cq_base' : 'sq_base',
      what: `${cq ? 'I/O CQ' : 'I/O SQ'} ${qid} base (PRP1${ev.f.pc === true ? '' : ', a PRP list'})`,
      addr: ev.f.addr as Value,
      a,
      len,
      author: str(ev.f.addr_by) ?? ev.author ?? null,
      source: 'command',
      claimed: str(ev.f.addr_ledger),
      ev,
      related: [],
    });
  }

  private prp(ev: Ev): void {
    const f = ev.f;
    const len = num(f.len);
    const first = Math.min(num(f.first_len), len);
    const page = this.pageSize();
    const cmd = this.current;
    const author = ev.author ?? null;
    if (f.prp1 !== undefined) {
      this.address({ kind: 'prp1', what: 'PRP1', addr: f.prp1 as Value, a: num(f.prp1), len: Math.max(first, 1), author: str(f.prp1_by) ?? author, source: 'command', claimed: str(f.prp1_ledger), ev, related: [] });
    }
    const rem = len - first;
    if (!(rem > 0) || f.prp2 === undefined) return;
    const a2 = num(f.prp2);
    if (rem <= page) {
      this.address({ kind: 'prp2', what: 'PRP2', addr: f.prp2 as Value, a: a2, len: rem, author: str(f.prp2_by) ?? author, source: 'command', claimed: str(f.prp2_ledger), ev, related: [] });
      return;
    }
    const entries = Math.ceil(rem / page);
    this.address({
      kind: 'prp_list',
      what: 'PRP2 (PRP list pointer)',
      addr: f.prp2 as Value,
      a: a2,
      len: Math.min(entries * 8, page - (a2 % page)),
      author: str(f.prp2_by) ?? author,
      source: 'command',
      claimed: str(f.prp2_ledger),
      ev,
      related: [],
    });
    if (cmd) {
      cmd.remaining = rem;
      cmd.expectList = a2;
    }
  }

  private dbbuf(ev: Ev): void {
    const page = this.pageSize();
    const f = ev.f;
    if (f.dbs !== undefined) {
      this.address({ kind: 'dbbuf_dbs', what: 'shadow doorbell buffer (PRP1)', addr: f.dbs as Value, a: num(f.dbs), len: page, author: str(f.dbs_by) ?? ev.author ?? null, source: 'command', claimed: str(f.dbs_ledger), ev, related: [] });
    }
    if (f.eis !== undefined) {
      this.address({ kind: 'dbbuf_eis', what: 'EventIdx buffer (PRP2)', addr: f.eis as Value, a: num(f.eis), len: page, author: str(f.eis_by) ?? ev.author ?? null, source: 'command', claimed: str(f.eis_ledger), ev, related: [] });
    }
  }

  private prpList(ev: Ev): void {
    const f = ev.f;
    const cmd = this.current;
    const page = this.pageSize();
    const a = num(f.addr);
    const count = num(f.entries);
    const hasNext = f.next !== undefined;
    const related: SourceRef[] = cmd && cmd.line !== ev.line ? [{ file: this.file, line: cmd.line, raw: cmd.raw, note: 'command submitted here' }] : [];
    // The list page was checked as PRP2 or as the previous page's chain pointer, unless it is another address.
    if (!cmd || cmd.expectList !== a) {
      this.address({ kind: 'prp_list', what: 'PRP list page', addr: f.addr as Value, a, len: (count + (hasNext ? 1 : 0)) * 8, author: ev.author ?? null, source: 'prp-list', claimed: str(f.ledger), ev, related });
    }
    if (!hasNext) {
      if (cmd) cmd.expectList = undefined;
      return;
    }
    const n = num(f.next);
    const after = cmd?.remaining !== undefined ? Math.max(0, cmd.remaining - count * page) : page;
    this.address({
      kind: 'prp_list',
      what: 'PRP list chain pointer',
      addr: f.next as Value,
      a: n,
      len: Math.min(Math.max(1, Math.ceil(after / page)) * 8, page - (n % page)),
      author: ev.author ?? null,
      source: 'prp-list',
      ev,
      related,
    });
    if (cmd) cmd.expectList = n;
  }

  private prpEntry(ev: Ev): void {
    const cmd = this.current;
    const page = this.pageSize();
    const a = num(ev.f.addr);
    let len = page - (a % page);
    if (cmd?.remaining !== undefined) {
      len = Math.max(1, Math.min(len, cmd.remaining));
      cmd.remaining = Math.max(0, cmd.remaining - len);
    }
    this.address({ kind: 'prp_entry', what: `PRP list entry ${num(ev.f.index)}`, addr: ev.f.addr as Value, a, len, author: ev.author ?? null, source: 'prp-list', ev, related: [] });
  }

  // ---------------------------------------------------------------------------------------- the ledger

  private alloc(ev: Ev): void {
    const id = String(ev.f.id);
    const base = num(ev.f.base);
    const len = num(ev.f.len);
    const region: Region = {
      id,
      base,
      len,
      end: base + len,
      owner: String(ev.f.owner),
      purpose: String(ev.f.purpose),
      pool: str(ev.f.pool),
      ref: this.ref(ev, `ledger region ${id} (${String(ev.f.purpose)}) allocated here`),
      baseValue: ev.f.base as Value,
    };
    if (this.engine.hasHook('authority.ledger')) {
      const prior = this.live.get(id);
      const overlap = this.overlapping(region);
      this.engine.fire(
        'authority.ledger',
        {
          op: 'alloc',
          id,
          base: region.baseValue,
          len,
          purpose: region.purpose,
          duplicate: prior !== undefined,
          overlaps: overlap ? { id: overlap.id, purpose: overlap.purpose, base: overlap.baseValue, last: overlap.end - 1 } : null,
          live: prior !== undefined,
          why: null,
        },
        { ev, binding: () => `ledger=${id}`, related: () => [prior?.ref, overlap?.ref].filter((r): r is SourceRef => r !== undefined) },
      );
    }
    this.live.set(id, region);
    this.freed.delete(id);
    this.sortedDirty = true;
    if (this.pending.length === 0) return;
    const still: AddressUse[] = [];
    for (const u of this.pending) {
      if (u.claimed !== undefined ? u.claimed === id : this.contains(region, u.a)) this.place(u, 'later', region, [region.ref]);
      else still.push(u);
    }
    this.pending = still;
  }

  private free(ev: Ev): void {
    const id = String(ev.f.id);
    const r = this.live.get(id);
    if (this.engine.hasHook('authority.ledger')) {
      const gone = r ? undefined : this.freed.get(id);
      this.engine.fire(
        'authority.ledger',
        { op: 'free', id, base: null, len: null, purpose: r?.purpose ?? null, duplicate: false, overlaps: null, live: r !== undefined, why: r ? null : gone ? 'was freed already' : 'was never allocated' },
        { ev, binding: () => `ledger=${id}`, related: () => (gone ? [gone.ref] : []) },
      );
    }
    if (!r) return;
    this.live.delete(id);
    this.sortedDirty = true;
    this.freed.set(id, { region: r, ref: this.ref(ev, `ledger region ${id} (${r.purpose}) freed here`) });
    if (this.freed.size > MEMORY) this.freed.delete(this.freed.keys().next().value!);
  }

  private contains(r: Region, a: number): boolean {
    return a >= r.base && a < r.end;
  }

  /** Live regions by base address. */
  private sortedLive(): Region[] {
    if (this.sortedDirty) {
      this.sorted = [...this.live.values()].sort((x, y) => x.base - y.base);
      this.sortedDirty = false;
    }
    return this.sorted;
  }

  /** Index (in sortedLive()) of the last region that starts below `bound`, or at it when `orAt`; -1 if none. */
  private lastStarting(bound: number, orAt: boolean): number {
    const s = this.sortedLive();
    let lo = 0;
    let hi = s.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = s[mid]!.base;
      if (b < bound || (orAt && b === bound)) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /** A live region (another id) that shares memory with r, if any. */
  private overlapping(r: Region): Region | undefined {
    const s = this.sortedLive();
    // The last region that starts before r ends; regions normally do not overlap, so look back only a little.
    const best = this.lastStarting(r.end, false);
    for (let i = best; i >= 0 && i > best - 8; i--) {
      const o = s[i]!;
      if (o.id !== r.id && o.end > r.base && o.base < r.end) return o;
    }
    return undefined;
  }

  private findLive(a: number): Region | undefined {
    const s = this.sortedLive();
    const best = this.lastStarting(a, true);
    // Regions normally do not overlap; look back a little in case they do.
    for (let i = best; i >= 0 && i > best - 8; i--) if (this.contains(s[i]!, a)) return s[i];
    return undefined;
  }

  private findFreed(a: number): { region: Region; ref: SourceRef } | undefined {
    let found: { region: Region; ref: SourceRef } | undefined;
    for (const f of this.freed.values()) if (this.contains(f.region, a)) found = f; // the latest free wins
    return found;
  }

  private regionScope(r: Region | undefined): Scope | null {
    return r ? { id: r.id, base: r.baseValue, len: r.len, end: r.end, last: r.end - 1, owner: r.owner, purpose: r.purpose, pool: r.pool ?? null, line: r.ref.line } : null;
  }

  /** One address-bearing value: who wrote it, where it lies, whether it fits; placement now or once known. */
  private address(u: AddressUse): void {
    let region: Region | undefined;
    let placement: Placement | undefined;
    let related: SourceRef[] = [];
    if (u.claimed !== undefined) {
      const r = this.live.get(u.claimed);
      if (r) {
        region = r;
        placement = this.contains(r, u.a) ? 'live' : 'mismatch';
      } else {
        const fr = this.freed.get(u.claimed);
        if (fr) {
          region = fr.region;
          placement = 'freed';
          related = [fr.region.ref, fr.ref];
        }
      }
    } else {
      region = this.findLive(u.a);
      if (region) placement = 'live';
      else {
        const fr = this.findFreed(u.a);
        if (fr) {
          region = fr.region;
          placement = 'freed';
          related = [fr.region.ref, fr.ref];
        }
      }
    }
    if (placement === 'live' && region!.pool !== undefined && !this.handles.has(region!.pool) && this.revoked.has(region!.pool)) {
      placement = 'revoked';
      related = [region!.ref, this.revoked.get(region!.pool)!.ref];
    }
    const inRegion = placement === 'live' || placement === 'revoked';
    if (this.engine.hasHook('authority.address')) {
      const r = inRegion ? region! : undefined;
      const last = u.a + Math.max(u.len, 1) - 1;
      this.engine.fire(
        'authority.address',
        {
          kind: u.kind,
          what: u.what,
          addr: u.addr,
          len: u.len,
          last,
          author: u.author,
          source: u.source,
          claimed: u.claimed ?? null,
          in_region: inRegion,
          region: this.regionScope(r),
          inside: r ? last < r.end : false,
          overrun: r ? Math.max(0, last + 1 - r.end) : 0,
        },
        { ev: u.ev, binding: () => `${u.kind}=${hex(u.a)}`, related: () => [...u.related, ...(r ? [r.ref] : [])] },
      );
    }
    if (placement === undefined) {
      this.pending.push(u);
      if (this.pending.length > MAX_PENDING) this.place(this.pending.shift()!, 'never', undefined, []);
      return;
    }
    if (placement === 'mismatch') related = [region!.ref];
    this.place(u, placement, region, related);
  }

  private place(u: AddressUse, placement: Placement, region: Region | undefined, related: SourceRef[]): void {
    if (!this.engine.hasHook('authority.placement')) return;
    let where = '';
    switch (placement) {
      case 'freed': {
        const fr = related[1];
        where = `lies in ledger region ${region!.id} (${region!.purpose}), freed at line ${fr?.line ?? '?'}`;
        break;
      }
      case 'revoked':
        where = `lies in ledger region ${region!.id} (${region!.purpose}) of DMAPool handle ${region!.pool}, ${this.revoked.get(region!.pool!)?.how ?? 'revoked'} at line ${related[1]?.line ?? '?'}`;
        break;
      case 'later':
        where = `lies in ledger region ${region!.id} (${region!.purpose}), allocated only at line ${region!.ref.line}`;
        break;
      case 'never':
        where = u.claimed !== undefined ? `names ledger region ${u.claimed}, which was never allocated` : 'lies in no DMA ledger region (the manager never allocated it)';
        break;
      case 'mismatch':
        where = `is outside ledger region ${region!.id} (${region!.purpose}, ${hex(region!.base)}..${hex(region!.end - 1)}) that the line names`;
        break;
      default:
        break;
    }
    this.engine.fire(
      'authority.placement',
      { kind: u.kind, what: u.what, addr: u.addr, len: u.len, author: u.author, source: u.source, claimed: u.claimed ?? null, placement, region: this.regionScope(region), where },
      { ev: u.ev, binding: () => `${u.kind}=${hex(u.a)}`, related: () => [...u.related, ...related] },
    );
  }

  // ---------------------------------------------------------------------------------------- exposure

  private exposure(ev: Ev): void {
    if (!this.engine.hasHook('authority.exposure')) return;
    const f = ev.f;
    this.engine.fire(
      'authority.exposure',
      {
        lane: str(f.lane) ?? this.opts.lane ?? null,
        direct_dma: str(f.direct_dma) ?? null,
        iova_export: str(f.iova_export) ?? null,
        host_physical_user_visible: f.host_physical_user_visible === undefined ? null : f.host_physical_user_visible === true,
        prp_source: str(f.prp_source) ?? null,
        author: ev.author ?? null,
      },
      { ev, binding: 'dma.policy' },
    );
  }

  /** Live-state size (for the claim that memory follows live regions, handles and queues). */
  liveState(): { regions: number; handles: number; queues: number; pending: number } {
    return { regions: this.live.size, handles: this.handles.size, queues: this.liveQueues.size, pending: this.pending.length };
  }
}

/**
 * The authority rules cannot be checked on a trace that does not say who wrote what (QEMU, ftrace, canonical
 * traces with authors=no): they are reported as not checked rather than passing.
 */
export function authorityNotChecked(rules: { meta: { id: string; family: string } }[]): { rule: string; reason: string }[] {
  return rules.filter((r) => r.meta.family === 'authority').map((r) => ({ rule: r.meta.id, reason: 'the trace carries no authors' }));
}
