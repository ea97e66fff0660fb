import { createHash } from 'node:crypto';
import type { SourceRef } from '../findings/finding.js';
import type { Ev } from '../normalise/event.js';
import type { Scope, Value } from '../rules/expr.js';
import type { CommandDef } from '../specs/nvme.js';
import { loadDiskContract, UNMAP_BEHAVIOURS, type DiskContract, type UnmapBehaviour } from './contract.js';
import { NamespaceTable, type DeclaredNamespace, type NsObservation } from './ns-state.js';

/**
 * The disk contract's side of the controller model: per-namespace geometry and deallocated ranges
 * (NamespaceTable), what each I/O command does to its namespace, and the scopes of the `ns.geometry`,
 * `cmd.rw.complete` hooks and the disk values of `cmd.submit` / `cmd.rw`. The model calls it at the moments it
 * already handles; every value a rule needs is computed only when the rule's hook is wanted, and the
 * expensive ones (deallocation lookups, digests) only when a condition reads them.
 */

/** What a command carries for the disk rules (set on the model's command record). */
export interface DiskCmdState {
  nsid?: number;
  slba?: number;
  blocks?: number;
  bytes?: number;
  /** Modification sequence number when the read was submitted (for reads of deallocated blocks). */
  seq?: number;
  /** Deallocated ranges of a Dataset Management command, [slba, nlb] (at most 256, as NVMe allows). */
  dsm?: [number, number][];
  /** Status QEMU printed with pci_nvme_err_aio: the backend failed the I/O. */
  ioError?: number;
  dataZero?: boolean;
  digest?: string;
}

export interface DiskCmd {
  cid: number;
  sqid: number;
  opc: number | undefined;
  admin: boolean;
  nsid?: number;
  def?: CommandDef;
  rwOp?: string;
  disk?: DiskCmdState;
}

/** Commands that modify their namespace's blocks (NVM Command Set 1.0 §3.2; ZNS Zone Append). */
const MODIFYING = new Set(['WRITE', 'WRITE_UNCORRECTABLE', 'WRITE_ZEROES', 'COPY', 'ZONE_APPEND']);
/** Commands that never modify blocks (Flush commits earlier writes but modifies nothing: Base §7.1). */
const NON_MODIFYING = new Set(['READ', 'FLUSH', 'COMPARE', 'VERIFY', 'RESV_REGISTER', 'RESV_REPORT', 'RESV_ACQUIRE', 'RESV_RELEASE', 'ZONE_MGMT_RECV']);
const MAX_DSM_RANGES = 256;

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : NaN;
}
function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === '1' || v === 'true' || v === 'yes') return true;
  if (v === 0 || v === '0' || v === 'false' || v === 'no') return false;
  return undefined;
}

const zeroDigests = new Map<string, string>();
/**
 * Whether a `sha256:<hex>` digest is that of `bytes` zero bytes; null for other algorithms or unknown lengths.
 * At most 16 lengths are remembered.
 */
export function isZeroDigest(digest: string, bytes: number | undefined): boolean | null {
  const m = /^sha256:([0-9a-f]{64})$/i.exec(digest);
  if (!m || bytes === undefined || !(bytes > 0) || bytes > 1 << 30) return null;
  const key = String(bytes);
  let z = zeroDigests.get(key);
  if (!z) {
    const h = createHash('sha256');
    const chunk = Buffer.alloc(Math.min(bytes, 1 << 20));
    for (let left = bytes; left > 0; left -= chunk.length) h.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
    z = h.digest('hex');
    if (zeroDigests.size >= 16) zeroDigests.delete(zeroDigests.keys().next().value!);
    zeroDigests.set(key, z);
  }
  return m[1]!.toLowerCase() === z;
}

export class DiskTracker {
  readonly ns: NamespaceTable;
  readonly contract: DiskContract;

  constructor(declared: readonly DeclaredNamespace[] | undefined, contract?: DiskContract) {
    this.ns = new NamespaceTable(declared ?? []);
    this.contract = contract ?? loadDiskContract();
  }

  /** true: modifies blocks; false: never does; null: cannot tell (a DSM whose attributes the trace hides). */
  modifies(cmd: DiskCmd): boolean | null {
    if (cmd.admin) return false;
    if (cmd.rwOp === 'write' || cmd.rwOp === 'write_zeroes') return true;
    const name = cmd.def?.name;
    if (name === undefined) return null;
    if (MODIFYING.has(name)) return true;
    if (name === 'DSM') return cmd.disk?.dsm?.length ? true : null;
    return NON_MODIFYING.has(name) ? false : null;
  }

  /** Whether a command, by its opcode alone, modifies blocks (cmd.submit: DSM is judged at completion). */
  modifiesAtSubmit(def: CommandDef | undefined, admin: boolean): boolean {
    return !admin && def !== undefined && MODIFYING.has(def.name);
  }

  readOnly(nsid: unknown): boolean | null {
    return this.ns.readOnly(num(nsid)) ?? null;
  }

  /** cmd.rw: remember the command's range (and any data flag a canonical trace put on it). */
  onRw(cmd: DiskCmd | undefined, f: Ev['f']): void {
    if (!cmd) return;
    const d = (cmd.disk ??= {});
    d.nsid = num(f.nsid);
    const slba = num(f.slba);
    const blocks = num(f.blocks);
    if (Number.isFinite(slba)) d.slba = slba;
    if (Number.isFinite(blocks)) d.blocks = blocks;
    if (f.bytes !== undefined) d.bytes = num(f.bytes);
    d.seq = this.ns.seq;
    const z = bool(f.data_zero);
    if (z !== undefined) d.dataZero = z;
    if (typeof f.data_digest === 'string') d.digest = f.data_digest;
  }

  /** cmd.dsm_range: one range of a Dataset Management Deallocate. */
  onDsmRange(cmd: DiskCmd | undefined, f: Ev['f']): void {
    if (!cmd) return;
    const d = (cmd.disk ??= {});
    const list = (d.dsm ??= []);
    const slba = num(f.slba);
    const blocks = num(f.blocks);
    if (list.length < MAX_DSM_RANGES && Number.isFinite(slba) && Number.isFinite(blocks)) list.push([slba, blocks]);
  }

  onIoError(cmd: DiskCmd, status: number): void {
    (cmd.disk ??= {}).ioError = status;
  }

  /** What a geometry observation changes, for the `ns.geometry` hook. */
  geometryScope(nsid: number, o: NsObservation, source: string): Scope {
    const ch = this.ns.compare(nsid);
    return {
      nsid,
      source,
      lba_size: o.lbaSize ?? null,
      blocks: o.blocks ?? null,
      read_only: o.readOnly ?? null,
      unmap: o.unmap ?? null,
      prev_lba_size: ch.prevLbaSize,
      prev_blocks: ch.prevBlocks,
      prev_lba_from: ch.prevLbaFrom,
      prev_blocks_from: ch.prevBlocksFrom,
      resize_notified: ch.resizeNotified,
      formatted: ch.formatted,
    };
  }

  geometryRelated(nsid: number): SourceRef[] {
    const e = this.ns.get(nsid);
    const out: SourceRef[] = [];
    if (e?.blocksRef) out.push({ ...e.blocksRef });
    if (e?.lbaRef && e.lbaRef.line !== e.blocksRef?.line) out.push({ ...e.lbaRef });
    return out;
  }

  /** An `ns.geometry` event's observation (Identify Namespace data of a canonical trace). */
  observation(f: Ev['f']): { nsid: number; o: NsObservation } {
    const o: NsObservation = {};
    const lba = num(f.lba_size);
    const blocks = num(f.blocks);
    if (Number.isFinite(lba)) o.lbaSize = lba;
    if (Number.isFinite(blocks)) o.blocks = blocks;
    const ro = bool(f.read_only);
    if (ro !== undefined) o.readOnly = ro;
    if (typeof f.unmap === 'string' && (UNMAP_BEHAVIOURS as readonly string[]).includes(f.unmap)) o.unmap = f.unmap as UnmapBehaviour;
    return { nsid: num(f.nsid), o };
  }

  /**
   * The `cmd.rw.complete` scope: an I/O command's completion with its range, its namespace's geometry and
   * what the evidence says its failure was caused by. Needed at every I/O completion, so it is one object of a
   * fixed shape, refilled each time (valid until the next call: rule code reads it only while its hook runs),
   * whose costlier values (status name, deallocation, digests, message texts) are getters on its prototype,
   * computed only when a rule reads them.
   */
  completeScope(cmd: DiskCmd, status: number, ev: Ev, statusName: (s: number) => string, outstanding: () => Iterable<DiskCmd>): Scope {
    return (this.completion ??= new CompleteScope()).fill(this, cmd, status, ev, statusName, outstanding) as unknown as Scope;
  }
  private completion?: CompleteScope;

  /** Whether a read of [start, end) saw only deallocated blocks (see NamespaceTable.readDeallocated), in-flight writes considered. */
  readSawDeallocated(nsid: number, start: number, end: number, since: number, outstanding: Iterable<DiskCmd>): boolean | null {
    const r = this.ns.readDeallocated(nsid, start, end, since);
    if (r !== true) return r;
    return this.inFlightTouches(nsid, start, end, outstanding) ? null : true;
  }

  /** Whether a command still in flight may be changing blocks of [start, end). */
  inFlightTouches(nsid: number, start: number, end: number, cmds: Iterable<DiskCmd>): boolean {
    for (const c of cmds) {
      if (c.admin) continue;
      const n = c.disk?.nsid ?? c.nsid;
      if (n !== nsid && n !== 0xffffffff) continue;
      const m = this.modifies(c);
      if (m === false) continue;
      if (m === null) return true;
      if (c.disk?.dsm?.length) {
        if (c.disk.dsm.some(([s, b]) => s < end && s + b > start)) return true;
        continue;
      }
      const s = c.disk?.slba;
      const b = c.disk?.blocks;
      if (s === undefined || b === undefined || (s < end && s + b > start)) return true;
    }
    return false;
  }

  /** What a completed I/O command did to its namespace's deallocated ranges. */
  applyIo(cmd: DiskCmd, status: number): void {
    const d = cmd.disk;
    const nsid = d?.nsid ?? cmd.nsid;
    if (nsid === undefined) return;
    if (!this.ns.tracks(nsid)) return;
    const m = this.modifies(cmd);
    if (m === false) return;
    const start = d?.slba;
    const end = start !== undefined && d?.blocks !== undefined ? start + d.blocks : undefined;
    if (status === 0 && cmd.rwOp === 'write_zeroes' && start !== undefined && end !== undefined) this.ns.deallocated(nsid, start, end);
    else if (status === 0 && d?.dsm?.length) for (const [s, b] of d.dsm) this.ns.deallocated(nsid, s, s + b);
    else this.ns.written(nsid, start, end);
  }

  /** Admin commands that change namespaces: notices, Format NVM, Namespace Management/Attachment, Sanitize. */
  applyAdmin(cmd: DiskCmd, status: number, ev: Ev, ref: (note: string) => SourceRef): void {
    if (status !== 0) return;
    switch (cmd.opc) {
      case 0x0c: {
        // Asynchronous Event Request: type Notice (2), information Namespace Attribute Changed (0) (Base §5.2).
        const dw0 = num(ev.f.dw0);
        if (Number.isFinite(dw0) && (dw0 & 7) === 2 && ((dw0 >>> 8) & 0xff) === 0) this.ns.notice(ref('Namespace Attribute Changed notice here'));
        return;
      }
      case 0x0d:
      case 0x15:
        this.ns.notice(ref(cmd.opc === 0x0d ? 'Namespace Management completed here' : 'Namespace Attachment completed here'));
        return;
      case 0x80:
        // Format NVM: a new LBA format may change the LBA size and, with it, the number of blocks.
        this.ns.formatted(cmd.nsid ?? 0xffffffff);
        this.ns.notice(ref('Format NVM completed here'));
        return;
      case 0x84:
        this.ns.forgetAll();
        return;
      default:
        return;
    }
  }
}

/** The `cmd.rw.complete` scope (see DiskTracker.completeScope). Field names are the rules' names. */
class CompleteScope {
  op = '';
  cid = 0;
  sqid = 0;
  nsid: number | null = null;
  slba: number | null = null;
  blocks: number | null = null;
  bytes: number | null = null;
  lba_size: number | null = null;
  ns_blocks: number | null = null;
  status = 0;
  status_code = 0;
  success = false;
  out_of_range: boolean | null = null;
  read_only: boolean | null = null;
  modifies: boolean | null = null;
  io_error = false;
  io_error_status: number | null = null;
  cause: string | null = null;
  unmap: UnmapBehaviour | null = null;

  // Private fields (#) stay out of reach of rule expressions, which read the scope by name.
  #t!: DiskTracker;
  #cmd!: DiskCmd;
  #ev!: Ev;
  #statusName!: (s: number) => string;
  #outstanding!: () => Iterable<DiskCmd>;

  fill(t: DiskTracker, cmd: DiskCmd, status: number, ev: Ev, statusName: (s: number) => string, outstanding: () => Iterable<DiskCmd>): this {
    this.#t = t;
    this.#cmd = cmd;
    this.#ev = ev;
    this.#statusName = statusName;
    this.#outstanding = outstanding;
    const d = cmd.disk;
    const nsid = d?.nsid ?? cmd.nsid ?? null;
    const nsBlocks = nsid === null ? undefined : t.ns.blocks(nsid);
    this.op = cmd.rwOp ?? cmd.def?.name.toLowerCase() ?? 'unknown';
    this.cid = cmd.cid;
    this.sqid = cmd.sqid;
    this.nsid = nsid;
    this.slba = d?.slba ?? null;
    this.blocks = d?.blocks ?? null;
    this.bytes = d?.bytes ?? null;
    this.lba_size = nsid === null ? null : t.ns.lbaSize(nsid);
    this.ns_blocks = nsBlocks ?? null;
    this.status = status;
    this.status_code = status & 0x7ff;
    this.success = status === 0;
    this.out_of_range = this.slba !== null && this.blocks !== null && nsBlocks !== undefined ? this.slba + this.blocks > nsBlocks : null;
    this.modifies = t.modifies(cmd);
    this.read_only = nsid === null ? null : (t.ns.readOnly(nsid) ?? null);
    this.io_error = d?.ioError !== undefined;
    this.io_error_status = d?.ioError ?? null;
    this.cause = this.out_of_range === true ? 'out-of-range' : this.modifies === true && this.read_only === true ? 'read-only' : this.io_error ? 'io-error' : null;
    this.unmap = nsid === null ? null : (t.ns.unmap(nsid) ?? null);
    return this;
  }

  get name(): string {
    const c = this.#cmd;
    return c.def?.name ?? (c.opc !== undefined ? '0x' + c.opc.toString(16) : '?');
  }
  get status_name(): string {
    return this.#statusName(this.status);
  }
  /** The first contract class the status belongs to, or null. */
  get status_class(): string | null {
    return this.#t.contract.statusClasses.get(this.status_code)?.[0] ?? null;
  }
  /** in_class("read-only"): the completion's status is one of that class's statuses. */
  get in_class(): (c: Value) => boolean {
    const k = this.status_code;
    const contract = this.#t.contract;
    return (c) => contract.inClass(k, String(c));
  }
  /** The statuses the cause calls for, as text. */
  get expected(): string {
    return this.cause ? (this.#t.contract.classText.get(this.cause) ?? this.cause) : '';
  }
  /** Why the status does not fit (disk-error-status-class's message). */
  get reason(): string {
    const contract = this.#t.contract;
    const k = this.status_code;
    if (this.cause === 'io-error') return `the backend failed the I/O (pci_nvme_err_aio status 0x${(this.io_error_status ?? 0).toString(16)}), so it must fail with ${this.expected}`;
    if (this.cause) return `its cause is ${this.cause}, so it must fail with ${this.expected}`;
    if (contract.inClass(k, 'out-of-range') && this.out_of_range === false) return `LBA Out of Range, but its ${this.blocks} block(s) at LBA ${this.slba} lie inside namespace ${this.nsid} (${this.ns_blocks} blocks)`;
    if (contract.inClass(k, 'read-only')) return this.read_only === false ? `a read-only status, but namespace ${this.nsid} is writable` : 'a read-only status for a command that modifies no block';
    return 'the status does not belong to the error class of its cause';
  }
  /** What a read returned: all zeroes (true), something else (false), unknown (null). */
  get data_zero(): boolean | null {
    const f = this.#ev.f;
    const d = this.#cmd.disk;
    const z = bool(f.data_zero);
    if (z !== undefined) return z;
    if (d?.dataZero !== undefined) return d.dataZero;
    const digest = typeof f.data_digest === 'string' ? f.data_digest : d?.digest;
    const bytes = d?.bytes ?? (this.blocks !== null && this.lba_size !== null ? this.blocks * this.lba_size : undefined);
    return digest ? isZeroDigest(digest, bytes) : null;
  }
  /** Every block read was deallocated, and nothing changed them while the read was in flight (null: unknown). */
  get deallocated(): boolean | null {
    const d = this.#cmd.disk;
    if (this.nsid === null || this.slba === null || this.blocks === null || d?.seq === undefined) return null;
    return this.#t.readSawDeallocated(this.nsid, this.slba, this.slba + this.blocks, d.seq, this.#outstanding());
  }
}
