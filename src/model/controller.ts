import type { SourceRef } from '../findings/finding.js';
import { keepText, type Ev, type KeptText } from '../normalise/event.js';
import type { RuleEngine, Flaggable, Hook } from '../rules/engine.js';
import type { Scope } from '../rules/expr.js';
import type { NvmeSpec, CommandDef } from '../specs/nvme.js';
import type { ControllerShape } from './shape.js';
import { DiskTracker, type DiskCmdState } from '../disk/tracker.js';
import type { DiskContract } from '../disk/contract.js';
import type { NsObservation } from '../disk/ns-state.js';
import type { FieldValue } from '../parse/template.js';

/**
 * One NVMe controller, replayed from the normalised event stream. It keeps only live state (registers,
 * queues, outstanding commands), so memory follows the number of queues and commands in flight, never the
 * trace length. At each moment a rule may care about it announces a hook to the rule engine with a scope.
 */

const REG = { CC: 0x14, CSTS: 0x1c, AQA: 0x24, ASQ: 0x28, ACQ: 0x30 } as const;

interface Queue {
  qid: number;
  entries: number;
  base?: number | bigint;
  line: number;
  raw: string;
}
interface SQ extends Queue {
  cqid: number;
  outstanding: Map<number, Cmd>;
}
interface CQ extends Queue {
  sqs: Set<number>;
}
interface Cmd extends Flaggable, KeptText {
  sqid: number;
  cid: number;
  opc: number | undefined;
  admin: boolean;
  nsid?: number;
  line: number;
  def?: CommandDef;
  fid?: number;
  rwBytes?: number;
  rwOp?: string;
  /** Queue creation/deletion takes effect only when the command completes successfully. */
  effect?: () => void;
  /** An earlier command with the same CID still outstanding (a host bug, reported): both may complete. */
  prev?: Cmd;
  /** The disk contract's view of the command: its LBA range, deallocated ranges, a backend I/O error. */
  disk?: DiskCmdState;
}

export interface Visibility {
  /** Register accesses are in the trace (QEMU, canonical); ftrace shows only commands. */
  registers: boolean;
  /** Reads back the lines kept as their place in the trace file (normalise/event.ts keepText). */
  fileText?: { read(at: number, length: number): string };
}

/** A type, not an interface, so that it is a rule scope as it is (no copy per register write). */
export type CcFields = {
  en: number;
  css: number;
  mps: number;
  ams: number;
  shn: number;
  iosqes: number;
  iocqes: number;
};

export function decodeCc(v: number): CcFields {
  return {
    en: v & 1,
    css: (v >>> 4) & 7,
    mps: (v >>> 7) & 0xf,
    ams: (v >>> 11) & 7,
    shn: (v >>> 14) & 3,
    iosqes: (v >>> 16) & 0xf,
    iocqes: (v >>> 20) & 0xf,
  };
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
}

/**
 * The scopes of the hooks fired on nearly every event, one object each, refilled per event: rule code only reads
 * a scope while its hook runs (a finding keeps the message rendered from it, never the scope), so one object
 * of one shape serves every event and none is allocated per event. Fields that never change are set here.
 */
function hotScopes(m: { nsActive: (n: unknown) => boolean; nsReadOnly: (n: unknown) => boolean | null; nn: number | null }) {
  return {
    doorbell: { queue: 'sq', qid: 0, value: 0, offset: 0, stride: 0, aligned_offset: true, exists: false, entries: null as number | null, enabled: false, shutting_down: false, shadow: false },
    submit: {
      sqid: 0,
      cid: 0,
      opc: null as number | null,
      admin: false,
      set: 'I/O',
      nsid: null as number | null,
      name: null as string | null,
      known_opcode: false,
      sq_exists: false,
      outstanding: false,
      enabled: false,
      shutting_down: false,
      nsid_required: false,
      ns_active: m.nsActive,
      nn: m.nn,
      modifies: false,
      ns_read_only: m.nsReadOnly,
    },
    complete: { cid: 0, cqid: null as FieldValue | boolean | null, sqid: null as FieldValue | boolean | null, status: 0, matched: false },
    rw: { op: '', nsid: 0, slba: null as FieldValue | boolean | null, blocks: 0, bytes: null as FieldValue | boolean | null, lba_size: 0, ns_blocks: null as number | null, mdts_bytes: 0, transfers: false, read_only: null as boolean | null },
    prp: { prp1: null as FieldValue | boolean | null, prp2: null as FieldValue | boolean | null, len: 0, first_len: 0, page_size: 0, expected_len: null as number | null },
  };
}

/** A command with every field present from the start: one hidden class for all, however it is later filled. */
function newCmd(sqid: number, cid: number, opc: number | undefined, admin: boolean, nsid: number | undefined, ev: Ev, def: CommandDef | undefined): Cmd {
  const cmd: Cmd = { sqid, cid, opc, admin, nsid, line: ev.line, raw: undefined, rawAt: -1, rawLen: 0, def, fid: undefined, rwBytes: undefined, rwOp: undefined, effect: undefined, prev: undefined, disk: undefined, flagged: undefined };
  keepText(ev, cmd);
  return cmd;
}

export class ControllerModel {
  private cc = 0;
  private enabled: boolean;
  private enableRef?: SourceRef;
  private shutdownRef?: SourceRef;
  private aqa?: { value: number; ref: SourceRef };
  private asq: { lo?: number; hi: number; ref?: SourceRef } = { hi: 0 };
  private acq: { lo?: number; hi: number; ref?: SourceRef } = { hi: 0 };
  private sqs = new Map<number, SQ>();
  private cqs = new Map<number, CQ>();
  private grantedSq: number;
  private grantedCq: number;
  private current?: Cmd;
  /** The guest action QEMU's next error line is about: the last register/doorbell write or fetched command. */
  private lastAction?: Flaggable;
  private readonly fileText: Visibility['fileText'];
  /** The largest transfer (MDTS, in units of the minimum page size), 0 for no limit. */
  private readonly mdtsBytes: number;
  private dbbufRef?: SourceRef;
  /** Namespace geometry and deallocated ranges (src/disk: the disk contract). */
  private readonly disk: DiskTracker;
  private readonly registerCounts: Record<string, number> = {};
  /** Register writes by name and commands by set and name ('io:READ'), in the order first seen. */
  get coverage(): { registers: Record<string, number>; commands: Record<string, number> } {
    const commands: Record<string, number> = {};
    for (const c of this.opcodes.values()) commands[c.key] = (commands[c.key] ?? 0) + c.n;
    return { registers: this.registerCounts, commands };
  }
  /**
   * The hooks fired on every event of a busy trace, resolved once: each runs its rules at a call site of its
   * own and builds the finding's context (binding, related lines) only when a rule failed.
   */
  private readonly hooks: { regWrite?: Hook; doorbell?: Hook; submit?: Hook; complete?: Hook; rw?: Hook; prp?: Hook; rwComplete?: Hook };
  /** The shape's CAP fields as rules see them (scopes are read, never written, by rule code). */
  private readonly cap: Scope;
  private readonly scopes: ReturnType<typeof hotScopes>;

  constructor(
    private readonly file: string,
    private readonly shape: ControllerShape,
    private readonly spec: NvmeSpec,
    private readonly engine: RuleEngine,
    vis: Visibility,
    diskContract?: DiskContract,
  ) {
    this.grantedSq = shape.max_queue_pairs;
    this.grantedCq = shape.max_queue_pairs;
    this.disk = new DiskTracker(shape.namespaces, diskContract);
    this.hooks = {
      regWrite: engine.hook('reg.write'),
      doorbell: engine.hook('doorbell'),
      submit: engine.hook('cmd.submit'),
      complete: engine.hook('cmd.complete'),
      rw: engine.hook('cmd.rw'),
      prp: engine.hook('cmd.prp'),
      rwComplete: engine.hook('cmd.rw.complete'),
    };
    this.cap = { ...shape.cap };
    this.scopes = hotScopes({ nsActive: this.nsActiveFn, nsReadOnly: this.nsReadOnly, nn: shape.nn ?? null });
    // Without register visibility the controller was brought up before the trace began.
    this.enabled = !vis.registers;
    this.fileText = vis.fileText;
    this.mdtsBytes = shape.mdts > 0 ? 2 ** shape.mdts * 4096 * 2 ** shape.cap.mpsmin : 0;
    if (!vis.registers) {
      this.cc = 0x460061;
      this.cqs.set(0, { qid: 0, entries: 0, line: 0, raw: '', sqs: new Set([0]) });
      this.sqs.set(0, { qid: 0, entries: 0, cqid: 0, line: 0, raw: '', outstanding: new Map() });
    }
  }

  /** A kept line's text (read back from the trace file if it was kept as its place there). */
  private text(k: KeptText): string {
    if (k.raw !== undefined) return k.raw;
    if (!this.fileText) throw new Error('internal error: a line kept as its place in the trace file, with no file to read it from');
    return this.fileText.read(k.rawAt, k.rawLen);
  }

  private ref(ev: Ev, note: string): SourceRef {
    return { file: this.file, line: ev.line, raw: ev.raw, note };
  }
  private pageSize(): number {
    return 4096 << ((this.cc >>> 7) & 0xf);
  }

  consume(ev: Ev): void {
    switch (ev.kind) {
      case 'reg.write':
        return this.regWrite(ev);
      case 'reg.read': {
        const r = this.spec.regAt(num(ev.f.offset) & ~3);
        if (r) this.registerCounts[r.reg.name] = (this.registerCounts[r.reg.name] ?? 0) + 1;
        return;
      }
      case 'host.doorbell':
        return this.doorbell(ev);
      case 'ctrl.reset':
        return this.reset(true);
      case 'cmd.submit':
        return this.submit(ev);
      case 'cmd.complete':
        return this.complete(ev);
      case 'device.error':
        return this.deviceError(ev);
      case 'ns.geometry':
        return this.nsGeometry(ev);
      default:
        if (ev.kind.startsWith('cmd.')) this.details.get(ev.kind)?.(ev, ev.f, this.current);
    }
  }

  // ---------------------------------------------------------------- registers

  private regWrite(ev: Ev): void {
    const offset = num(ev.f.offset);
    const value = num(ev.f.value);
    const at = this.spec.regAt(offset & ~3);
    const name = at?.reg.name ?? null;
    if (name) this.registerCounts[name] = (this.registerCounts[name] ?? 0) + 1;
    const old = decodeCc(this.cc);
    const isCc = offset === REG.CC;
    const next = isCc ? decodeCc(value) : undefined;
    // The event itself stands for the guest action (one finding per cause on it): no object of its own.
    const subject = ev as Flaggable;
    this.lastAction = subject;
    const h = this.hooks.regWrite;
    if (h !== undefined) {
      const scope = { reg: name, offset, value, size: ev.f.size, high: at?.high ?? false, access: at?.reg.access ?? null, enabled: this.enabled, cc: old, new: next ?? null, cap: this.cap };
      const n = h.run(scope, h.hit, h.failed);
      if (n > 0) this.engine.failures(h, n, scope, { ev, binding: `reg=${name ?? offset.toString(16)}`, related: this.enableRef ? [this.enableRef] : [], subject });
    }
    switch (offset) {
      case REG.AQA:
        this.aqa = { value, ref: this.ref(ev, 'AQA programmed here') };
        return;
      case REG.ASQ:
        this.asq.lo = value;
        this.asq.ref = this.ref(ev, 'ASQ programmed here');
        return;
      case REG.ASQ + 4:
        this.asq.hi = value;
        return;
      case REG.ACQ:
        this.acq.lo = value;
        this.acq.ref = this.ref(ev, 'ACQ programmed here');
        return;
      case REG.ACQ + 4:
        this.acq.hi = value;
        return;
      case REG.CC:
        break;
      default:
        return;
    }
    const n = next!;
    this.cc = value;
    if (old.en === 0 && n.en === 1) this.enable(ev, n);
    else if (old.en === 1 && n.en === 0) this.reset(false);
    if (n.shn !== 0 && old.shn === 0) this.shutdownRef = this.ref(ev, 'shutdown requested here (CC.SHN)');
  }

  private enable(ev: Ev, cc: CcFields): void {
    const asqSet = this.asq.lo !== undefined;
    const acqSet = this.acq.lo !== undefined;
    if (this.engine.hasHook('ctrl.enable')) {
      const related = [this.aqa?.ref, this.asq.ref, this.acq.ref].filter((x): x is SourceRef => !!x);
      this.engine.fire(
        'ctrl.enable',
        {
          cc,
          cap: this.cap,
          aqa_set: this.aqa !== undefined,
          asq_set: asqSet,
          acq_set: acqSet,
          asq: this.asq.lo ?? null,
          acq: this.acq.lo ?? null,
          page_size: 4096 * 2 ** cc.mps,
        },
        { ev, binding: 'reg=CC.EN', related, subject: this.lastAction },
      );
    }
    this.enabled = true;
    this.enableRef = this.ref(ev, 'controller enabled here (CC.EN 0->1)');
    this.shutdownRef = undefined;
    // Without an AQA write the admin queue sizes are unknown (0): doorbell range checks then stay silent
    // rather than flag every admin doorbell after the one real mistake.
    const aqa = this.aqa?.value;
    const asq = this.asq.lo !== undefined ? this.asq.lo + this.asq.hi * 2 ** 32 : undefined;
    const acq = this.acq.lo !== undefined ? this.acq.lo + this.acq.hi * 2 ** 32 : undefined;
    this.cqs.set(0, { qid: 0, entries: aqa === undefined ? 0 : ((aqa >>> 16) & 0xfff) + 1, base: acq, line: ev.line, raw: ev.raw, sqs: new Set([0]) });
    this.sqs.set(0, { qid: 0, entries: aqa === undefined ? 0 : (aqa & 0xfff) + 1, base: asq, cqid: 0, line: ev.line, raw: ev.raw, outstanding: new Map() });
  }

  /** CC.EN 1->0 (controller reset) or a PCI/FLR reset: queues and outstanding commands are gone. */
  private reset(pci: boolean): void {
    this.enabled = false;
    this.enableRef = undefined;
    // Only a reset ends a shutdown: clearing CC.SHN alone does not make the controller usable again.
    this.shutdownRef = undefined;
    this.sqs.clear();
    this.cqs.clear();
    this.current = undefined;
    this.dbbufRef = undefined;
    // Writes in flight may or may not have reached the medium: what was deallocated is no longer known.
    this.disk.ns.forgetAll();
    this.grantedSq = this.shape.max_queue_pairs;
    this.grantedCq = this.shape.max_queue_pairs;
    if (pci) {
      // AQA/ASQ/ACQ survive a controller reset but not a conventional/function-level reset.
      this.cc = 0;
      this.aqa = undefined;
      this.asq = { hi: 0 };
      this.acq = { hi: 0 };
    }
  }

  // ---------------------------------------------------------------- doorbells

  private doorbell(ev: Ev): void {
    const offset = num(ev.f.offset);
    const value = num(ev.f.value);
    const stride = 4 << this.shape.cap.dstrd;
    const index = Math.floor((offset - 0x1000) / stride);
    const qid = index >> 1;
    const queue = index & 1 ? 'cq' : 'sq';
    const q = queue === 'sq' ? this.sqs.get(qid) : this.cqs.get(qid);
    // The event itself stands for the guest action (one finding per cause on it): no object of its own.
    const subject = ev as Flaggable;
    this.lastAction = subject;
    const h = this.hooks.doorbell;
    if (h === undefined) return;
    const shutdownRef = this.shutdownRef;
    const scope = this.scopes.doorbell;
    scope.queue = queue;
    scope.qid = qid;
    scope.value = value;
    scope.offset = offset;
    scope.stride = stride;
    scope.aligned_offset = (offset - 0x1000) % stride === 0;
    scope.exists = !!q;
    scope.entries = q?.entries ?? null;
    scope.enabled = this.enabled;
    scope.shutting_down = shutdownRef !== undefined;
    scope.shadow = this.dbbufRef !== undefined;
    const n = h.run(scope, h.hit, h.failed);
    if (n === 0) return;
    const related: SourceRef[] = [
      ...(q ? [{ file: this.file, line: q.line, raw: q.raw, note: `${queue.toUpperCase()} ${qid} created here` }] : []),
      ...(shutdownRef ? [shutdownRef] : []),
    ];
    this.engine.failures(h, n, scope, { ev, binding: `${queue}=${qid}`, related, subject });
  }

  // ---------------------------------------------------------------- commands

  private submit(ev: Ev): void {
    const sqid = num(ev.f.sqid);
    const cid = num(ev.f.cid);
    const opc = ev.f.opc === undefined ? undefined : num(ev.f.opc);
    const admin = ev.f.admin === true;
    const op = this.opcode(opc, admin);
    op.n++;
    const def = op.def;
    const sq = this.sqs.get(sqid);
    const prior = sq?.outstanding.get(cid);
    const cmd = newCmd(sqid, cid, opc, admin, ev.f.nsid === undefined ? undefined : num(ev.f.nsid), ev, def);
    const h = this.hooks.submit;
    if (h !== undefined) {
      const scope = this.scopes.submit;
      scope.sqid = sqid;
      scope.cid = cid;
      scope.opc = opc ?? null;
      scope.admin = admin;
      scope.set = admin ? 'admin' : 'I/O';
      scope.nsid = cmd.nsid ?? null;
      scope.name = def?.name ?? null;
      scope.known_opcode = def !== undefined;
      scope.sq_exists = !!sq;
      scope.outstanding = !!prior;
      scope.enabled = this.enabled;
      scope.shutting_down = this.shutdownRef !== undefined;
      scope.nsid_required = !admin && def !== undefined && def.nsid === 'required';
      scope.modifies = op.modifies;
      const n = h.run(scope, h.hit, h.failed);
      if (n > 0) {
        const related: SourceRef[] = [];
        if (prior) related.push({ file: this.file, line: prior.line, raw: this.text(prior), note: `cid ${cid} submitted here and not yet completed` });
        if (!sq && this.enableRef) related.push(this.enableRef);
        if (this.shutdownRef) related.push(this.shutdownRef);
        this.engine.failures(h, n, scope, { ev, binding: `sq=${sqid},cid=${cid}`, related, subject: cmd });
      }
    }
    if (sq) {
      if (prior) cmd.prev = prior;
      sq.outstanding.set(cid, cmd);
    }
    this.current = cmd;
    this.lastAction = cmd;
  }

  /** What an opcode is, worked out once, and how often it was submitted: by opcode (admin: -1 - opcode). */
  private readonly opcodes = new Map<number, { key: string; n: number; def: CommandDef | undefined; modifies: boolean }>();

  private opcode(opc: number | undefined, admin: boolean): { key: string; n: number; def: CommandDef | undefined; modifies: boolean } {
    const slot = opc === undefined ? -0.5 : admin ? -1 - opc : opc;
    let o = this.opcodes.get(slot);
    if (o === undefined) {
      const def = opc === undefined ? undefined : (admin ? this.spec.admin : this.spec.io).get(opc);
      const key = `${admin ? 'admin' : 'io'}:${def?.name ?? (opc === undefined ? '?' : '0x' + opc.toString(16))}`;
      this.opcodes.set(slot, (o = { key, n: 0, def, modifies: this.disk.modifiesAtSubmit(def, admin) }));
    }
    return o;
  }
  private readonly nsActiveFn = (n: unknown): boolean => this.nsActive(num(n));

  private nsActive(nsid: number): boolean {
    if (!(nsid >= 1)) return false;
    // The trace's own Identify Namespace data said it is an active namespace.
    if (this.disk.ns.get(nsid)?.blocksFrom === 'Identify Namespace') return true;
    const list = this.shape.namespaces;
    if (list && list.length) return list.some((n) => n.nsid === nsid);
    return this.shape.nn === undefined || nsid <= this.shape.nn;
  }

  private lbaSize(nsid: number): number {
    return this.disk.ns.lbaSize(nsid);
  }

  /**
   * Fires a detail hook of the command being processed. Scope and binding are built only when the hook has
   * rules and a rule fails; a method, not closures made per detail line.
   */
  private readonly fireDetail = (ev: Ev, cmd: Cmd | undefined, hook: string, scope: () => Scope, binding: () => string, related: SourceRef[] = []): void => {
    const h = this.engine.hook(hook);
    if (h === undefined) return;
    const sc = scope();
    const n = h.run(sc, h.hit, h.failed);
    if (n > 0) this.detailFailures(h, n, sc, ev, cmd, binding(), related);
  };

  /** Reports the failed rules of a detail hook: the line of the command it belongs to is related. */
  private detailFailures(h: Hook, n: number, scope: Scope, ev: Ev, cmd: Cmd | undefined, binding: string, related: SourceRef[] = []): void {
    const cmdRef = cmd && cmd.line !== ev.line ? this.submittedHere(cmd) : [];
    this.engine.failures(h, n, scope, { ev, binding, related: [...related, ...cmdRef], subject: cmd });
  }

  /**
   * Details of the command being processed (QEMU prints them on their own lines; ftrace inline): one small
   * function per kind, so each is optimised on its own when it is hot (one switch over every kind made a
   * function V8 took tens of milliseconds to optimise, twice).
   */
  private readonly details = new Map<string, (ev: Ev, f: Ev['f'], cmd: Cmd | undefined) => void>([
    [
      'cmd.create_cq',
      (ev, f, cmd) => {
        const cqid = num(f.cqid);
        const existing = this.cqs.get(cqid);
        this.fireDetail(
          ev,
          cmd,
          'cmd.create_cq',
          () => ({ cqid, addr: f.addr ?? null, qsize: num(f.qsize), pc: f.pc === true, ien: f.ien === true, vector: f.vector ?? null, exists: !!existing, granted: this.grantedCq, cap: this.cap, page_size: this.pageSize(), cc: decodeCc(this.cc), cqes: this.shape.cqes ?? null, msix_vectors: this.shape.msix_vectors ?? null }),
          () => `cq=${cqid}`,
          existing ? [{ file: this.file, line: existing.line, raw: existing.raw, note: `CQ ${cqid} already created here` }] : [],
        );
        this.onSuccess(cmd, () => {
          if (!this.cqs.has(cqid) && cqid !== 0) this.cqs.set(cqid, { qid: cqid, entries: num(f.qsize) + 1, base: f.addr as number | undefined, line: ev.line, raw: ev.raw, sqs: new Set() });
        });
      },
    ],
    [
      'cmd.create_sq',
      (ev, f, cmd) => {
        const sqid = num(f.sqid);
        const cqid = num(f.cqid);
        const existing = this.sqs.get(sqid);
        const cq = this.cqs.get(cqid);
        const related: SourceRef[] = [];
        if (existing) related.push({ file: this.file, line: existing.line, raw: existing.raw, note: `SQ ${sqid} already created here` });
        if (cq) related.push({ file: this.file, line: cq.line, raw: cq.raw, note: `CQ ${cqid} created here` });
        this.fireDetail(
          ev,
          cmd,
          'cmd.create_sq',
          () => ({ sqid, cqid, addr: f.addr ?? null, qsize: num(f.qsize), pc: f.pc === true, exists: !!existing, cq_exists: !!cq && cqid !== 0, granted: this.grantedSq, cap: this.cap, page_size: this.pageSize(), cc: decodeCc(this.cc), sqes: this.shape.sqes ?? null }),
          () => `sq=${sqid}`,
          related,
        );
        this.onSuccess(cmd, () => {
          const boundCq = this.cqs.get(cqid);
          if (!this.sqs.has(sqid) && sqid !== 0 && boundCq) {
            this.sqs.set(sqid, { qid: sqid, entries: num(f.qsize) + 1, base: f.addr as number | undefined, cqid, line: ev.line, raw: ev.raw, outstanding: new Map() });
            boundCq.sqs.add(sqid);
          }
        });
      },
    ],
    [
      'cmd.delete_sq',
      (ev, f, cmd) => {
        const qid = num(f.qid);
        const sq = this.sqs.get(qid);
        this.fireDetail(ev, cmd, 'cmd.delete_sq', () => ({ qid, exists: !!sq && qid !== 0 }), () => `sq=${qid}`);
        this.onSuccess(cmd, () => {
          const gone = this.sqs.get(qid);
          if (gone && qid !== 0) {
            this.sqs.delete(qid);
            this.cqs.get(gone.cqid)?.sqs.delete(qid);
          }
        });
      },
    ],
    [
      'cmd.delete_cq',
      (ev, f, cmd) => {
        const qid = num(f.qid);
        const cq = this.cqs.get(qid);
        const bound = cq ? [...cq.sqs].map((s) => this.sqs.get(s)).filter((s): s is SQ => !!s) : [];
        this.fireDetail(
          ev,
          cmd,
          'cmd.delete_cq',
          () => ({ qid, exists: !!cq && qid !== 0, bound_sqs: bound.length, bound_sq: bound[0]?.qid ?? null }),
          () => `cq=${qid}`,
          bound.map((s) => ({ file: this.file, line: s.line, raw: s.raw, note: `SQ ${s.qid} bound to CQ ${qid} created here and not deleted` })),
        );
        this.onSuccess(cmd, () => {
          if (qid !== 0) this.cqs.delete(qid);
        });
      },
    ],
    [
      'cmd.setfeat',
      (ev, f, cmd) => {
        if (cmd) cmd.fid = num(f.fid);
        this.fireDetail(ev, cmd, 'cmd.setfeat', () => ({ fid: num(f.fid), cdw11: f.cdw11 ?? null, known: this.spec.features.has(num(f.fid)) }), () => `fid=${num(f.fid)}`);
      },
    ],
    [
      'cmd.numq',
      (_ev, f) => {
        if (f.got_sq !== undefined) {
          this.grantedSq = num(f.got_sq);
          this.grantedCq = num(f.got_cq);
        }
      },
    ],
    [
      'cmd.dbbuf',
      (ev, f, cmd) => {
        this.dbbufRef = this.ref(ev, 'shadow doorbells configured here');
        this.fireDetail(ev, cmd, 'cmd.dbbuf', () => ({ dbs: f.dbs ?? null, eis: f.eis ?? null, page_size: this.pageSize() }), () => 'dbbuf');
      },
    ],
    [
      'cmd.identify',
      (ev, f, cmd) => {
        this.fireDetail(ev, cmd, 'cmd.identify', () => ({ cns: num(f.cns), known: this.spec.identifyCns.has(num(f.cns)) }), () => `cns=${num(f.cns)}`);
      },
    ],
    [
      'cmd.get_log',
      (ev, f, cmd) => {
        const lid = num(f.lid);
        const lp = this.spec.logPages.get(lid);
        this.fireDetail(ev, cmd, 'cmd.get_log', () => ({ lid, len: f.len ?? null, known: lp !== undefined }), () => `lid=${lid}`);
      },
    ],
    [
      'cmd.rw',
      (ev, f, cmd) => {
        const nsid = num(f.nsid);
        const blocks = num(f.blocks);
        const lba = this.lbaSize(nsid);
        if (cmd) {
          cmd.rwOp = String(f.op);
          cmd.rwBytes = f.op === 'write_zeroes' ? undefined : blocks * lba;
        }
        this.disk.onRw(cmd, f);
        const h = this.hooks.rw;
        if (h === undefined) return;
        const scope = this.scopes.rw;
        scope.op = String(f.op);
        scope.nsid = nsid;
        scope.slba = f.slba ?? null;
        scope.blocks = blocks;
        scope.bytes = f.bytes ?? null;
        scope.lba_size = lba;
        scope.ns_blocks = this.disk.ns.blocks(nsid) ?? null;
        scope.mdts_bytes = this.mdtsBytes;
        scope.transfers = f.op !== 'write_zeroes';
        scope.read_only = this.disk.readOnly(nsid);
        const n = h.run(scope, h.hit, h.failed);
        if (n > 0) this.detailFailures(h, n, scope, ev, cmd, `nsid=${nsid},cid=${cmd?.cid ?? '?'}`);
      },
    ],
    [
      'cmd.dsm_range',
      (_ev, f, cmd) => {
        this.disk.onDsmRange(cmd, f);
      },
    ],
    [
      'cmd.prp',
      (ev, f, cmd) => {
        const h = this.hooks.prp;
        if (h === undefined) return;
        const scope = this.scopes.prp;
        scope.prp1 = f.prp1 ?? null;
        scope.prp2 = f.prp2 ?? null;
        scope.len = num(f.len);
        scope.first_len = num(f.first_len);
        scope.page_size = this.pageSize();
        scope.expected_len = cmd?.rwBytes ?? null;
        const n = h.run(scope, h.hit, h.failed);
        if (n > 0) this.detailFailures(h, n, scope, ev, cmd, `sq=${cmd?.sqid ?? '?'},cid=${cmd?.cid ?? '?'}`);
      },
    ],
  ]);

  /** Runs a queue change when its command completes successfully (at once when no command is known). */
  private onSuccess(cmd: Cmd | undefined, effect: () => void): void {
    if (cmd) cmd.effect = effect;
    else effect();
  }

  private complete(ev: Ev): void {
    const cid = num(ev.f.cid);
    const status = num(ev.f.status);
    let cmd: Cmd | undefined;
    let sq: SQ | undefined;
    if (ev.f.sqid !== undefined) {
      sq = this.sqs.get(num(ev.f.sqid));
      cmd = sq?.outstanding.get(cid);
    } else {
      const cq = this.cqs.get(num(ev.f.cqid));
      if (cq) for (const s of cq.sqs) {
        const candidate = this.sqs.get(s)?.outstanding.get(cid);
        if (candidate) {
          cmd = candidate;
          sq = this.sqs.get(s);
          break;
        }
      }
    }
    const h = this.hooks.complete;
    if (h !== undefined) {
      const scope = this.scopes.complete;
      scope.cid = cid;
      scope.cqid = ev.f.cqid ?? null;
      scope.sqid = ev.f.sqid ?? sq?.qid ?? null;
      scope.status = status;
      scope.matched = !!cmd;
      const n = h.run(scope, h.hit, h.failed);
      if (n > 0) this.engine.failures(h, n, scope, { ev, binding: `cq=${String(ev.f.cqid ?? '?')},cid=${cid}`, related: this.submittedHere(cmd) });
    }
    if (!cmd || !sq) return;
    if (cmd.prev) sq.outstanding.set(cid, cmd.prev);
    else sq.outstanding.delete(cid);
    this.diskComplete(ev, cmd, status);
    if (status === 0) cmd.effect?.();
    if (status !== 0) {
      const def = cmd.def;
      this.engine.status(ev, status, { cid, status, sqid: cmd.sqid, name: def?.name ?? (cmd.opc !== undefined ? '0x' + cmd.opc.toString(16) : '?'), status_name: this.spec.status(status)?.name ?? 'unknown status' }, { ev, binding: `sq=${cmd.sqid},cid=${cid}`, related: this.submittedHere(cmd), subject: cmd });
    } else if (cmd.admin && cmd.opc === 0x09 && cmd.fid === 7 && ev.f.dw0 !== undefined) {
      // Number of Queues: the controller's answer is the grant (0's based counts in DW0).
      const dw0 = num(ev.f.dw0);
      this.grantedSq = (dw0 & 0xffff) + 1;
      this.grantedCq = (dw0 >>> 16) + 1;
    }
  }

  private deviceError(ev: Ev): void {
    const name = String(ev.f.event);
    if (name.startsWith('pci_nvme_err_startfail')) {
      this.enabled = false;
    }
    if (name === 'pci_nvme_err_invalid_lba_range' && ev.f.limit !== undefined && this.current?.nsid !== undefined) {
      // QEMU tells us the namespace size it checked against.
      this.observeGeometry(this.current.nsid, { blocks: num(ev.f.limit) }, 'the device limit', ev, this.current);
    }
    // A backend I/O error is reported when the I/O completes, not when it is submitted: find its command by cid.
    const failed = name === 'pci_nvme_err_aio' ? this.outstandingIo(num(ev.f.cid)) : undefined;
    if (failed) this.disk.onIoError(failed, num(ev.f.status));
    // QEMU prints its complaint right after the guest action it is about: a register or doorbell write, or the
    // command it is processing.
    const subject = failed ?? this.lastAction;
    const cmd = failed ?? (subject === this.current ? this.current : undefined);
    this.engine.deviceEvent(ev, { ev, binding: cmd ? `sq=${cmd.sqid},cid=${cmd.cid}` : name, related: this.submittedHere(cmd), subject });
  }

  // ---------------------------------------------------------------- the disk behind each namespace (src/disk)

  /** Identify Namespace data (canonical traces): `ns.geometry {nsid, lba_size?, blocks?, read_only?, unmap?}`. */
  private nsGeometry(ev: Ev): void {
    const { nsid, o } = this.disk.observation(ev.f);
    // Identify of an inactive NSID returns all zeroes (QEMU answers it for every NSID up to NN): nothing to learn.
    if (!(nsid >= 1) || o.blocks === 0) return;
    this.observeGeometry(nsid, o, 'Identify Namespace', ev, this.lastAction);
  }

  private observeGeometry(nsid: number, o: NsObservation, from: string, ev: Ev, subject?: Flaggable): void {
    if (this.engine.hasHook('ns.geometry')) {
      const related = (): SourceRef[] => {
        const out = this.disk.geometryRelated(nsid);
        if (this.disk.ns.noticeRef) out.push(this.disk.ns.noticeRef);
        return out;
      };
      this.engine.fire('ns.geometry', this.disk.geometryScope(nsid, o, from), { ev, binding: `nsid=${nsid}`, related, subject });
    }
    // An LBA size no disk can have (disk-geometry-valid) is reported, not adopted: the namespace's transfers are
    // still judged by its last valid size rather than each repeating that one cause.
    const valid = o.lbaSize === undefined || (o.lbaSize >= 512 && (o.lbaSize & (o.lbaSize - 1)) === 0);
    this.disk.ns.observe(nsid, valid ? o : { ...o, lbaSize: undefined }, from, this.ref(ev, `namespace ${nsid} geometry from ${from} here`));
  }

  private readonly statusName = (s: number): string => this.spec.status(s)?.name ?? 'unknown status';
  private readonly allOutstanding = (): Iterable<Cmd> => [...this.sqs.values()].flatMap((q) => [...q.outstanding.values()]);
  private readonly nsReadOnly = (n: unknown): boolean | null => this.disk.readOnly(n);

  /** An outstanding I/O command with this cid (QEMU's err_aio names no queue); the one being processed first. */
  private outstandingIo(cid: number): Cmd | undefined {
    if (this.current && !this.current.admin && this.current.cid === cid && this.sqs.get(this.current.sqid)?.outstanding.get(cid) === this.current) return this.current;
    for (const sq of this.sqs.values()) {
      if (sq.qid === 0) continue;
      const c = sq.outstanding.get(cid);
      if (c) return c;
    }
    return undefined;
  }

  /** The disk contract at a completion: the `cmd.rw.complete` hook, then what the command did to its namespace. */
  /** The line a command was submitted on, as a related line of a finding about it (none without a command). */
  private submittedHere(cmd: Cmd | undefined): SourceRef[] {
    return cmd ? [{ file: this.file, line: cmd.line, raw: this.text(cmd), note: 'command submitted here' }] : [];
  }

  private diskComplete(ev: Ev, cmd: Cmd, status: number): void {
    if (cmd.admin) {
      this.disk.applyAdmin(cmd, status, ev, (note) => this.ref(ev, note));
      return;
    }
    const h = this.hooks.rwComplete;
    if (h !== undefined && (cmd.nsid !== undefined || cmd.disk?.nsid !== undefined)) {
      const scope = this.disk.completeScope(cmd, status, ev, this.statusName, this.allOutstanding);
      const n = h.run(scope, h.hit, h.failed);
      if (n > 0) this.engine.failures(h, n, scope, { ev, binding: `sq=${cmd.sqid},cid=${cmd.cid}`, related: this.submittedHere(cmd), subject: cmd });
    }
    this.disk.applyIo(cmd, status);
  }

  /** Live-state size, for the benchmark's claim that memory follows queues and commands in flight. */
  liveState(): { queues: number; outstanding: number } {
    let outstanding = 0;
    for (const s of this.sqs.values()) outstanding += s.outstanding.size;
    return { queues: this.sqs.size + this.cqs.size, outstanding };
  }
}
