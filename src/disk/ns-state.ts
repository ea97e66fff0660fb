import type { SourceRef } from '../findings/finding.js';
import { IntervalSet } from './intervals.js';
import type { UnmapBehaviour } from './contract.js';

/**
 * What the controller model knows about each namespace's geometry (the disk behind it), where it learnt it, and
 * — for namespaces whose deallocated blocks read as zeroes — which block ranges are deallocated.
 *
 * Sources, weakest first: the shape's namespaces, a `--namespace FILE` (both "declared"), then what the trace
 * shows: Identify Namespace data (`ns.geometry` events of a canonical trace) and the namespace size QEMU prints
 * when it rejects an out-of-range LBA (`pci_nvme_err_invalid_lba_range ... limit=N`).
 *
 * Bounded: at most MAX_NAMESPACES entries (further namespaces are not tracked, so their rules stay silent); per
 * tracked namespace an IntervalSet of at most DEALLOC_CAP ranges and a log of the last MOD_LOG modifications.
 */

export const MAX_NAMESPACES = 1024;
export const DEALLOC_CAP = 512;
export const MOD_LOG = 64;

export interface DeclaredNamespace {
  nsid: number;
  lba_size: number;
  blocks?: number;
  read_only?: boolean;
  unmap?: UnmapBehaviour;
  /** Where the declaration comes from, for messages ("shape qemu-nvme", "--namespace ns.yaml"). */
  source?: string;
}

export interface NsObservation {
  lbaSize?: number;
  blocks?: number;
  readOnly?: boolean;
  unmap?: UnmapBehaviour;
}

interface Mod {
  seq: number;
  start: number;
  end: number;
}

export interface NsEntry {
  nsid: number;
  lbaSize?: number;
  blocks?: number;
  readOnly?: boolean;
  unmap?: UnmapBehaviour;
  /** Where the current size / LBA size was learnt. */
  blocksFrom?: string;
  lbaFrom?: string;
  blocksRef?: SourceRef;
  lbaRef?: SourceRef;
  /** NamespaceTable.notices / formats of this namespace when the size / LBA size was last learnt. */
  noticesAt: number;
  formatsAt: number;
  formats: number;
  /** Only for unmap: zeroes. */
  dealloc?: IntervalSet;
  mods?: Mod[];
  /** Highest modification sequence number that fell out of `mods`. */
  lostSeq: number;
}

export interface GeometryChange {
  prevBlocks: number | null;
  prevLbaSize: number | null;
  prevBlocksFrom: string | null;
  prevLbaFrom: string | null;
  prevBlocksRef?: SourceRef;
  prevLbaRef?: SourceRef;
  /** A Namespace Attribute Changed notice (or a Format NVM / Namespace Management) came since the size was learnt. */
  resizeNotified: boolean;
  /** A Format NVM of this namespace completed since its LBA size was learnt. */
  formatted: boolean;
}

export class NamespaceTable {
  private readonly ns = new Map<number, NsEntry>();
  /** Namespace Attribute Changed notices (and namespace management) seen so far. */
  notices = 0;
  noticeRef?: SourceRef;
  /** Sequence number of the last applied modification (deallocate, write). */
  seq = 0;
  private readonly defaultLba: number;

  constructor(declared: readonly DeclaredNamespace[] = []) {
    this.defaultLba = declared[0]?.lba_size ?? 512;
    for (const d of declared) {
      const e = this.entry(d.nsid)!;
      // A shape's LBA size is an assumption about the emulator (QEMU's default 512), not a statement about this
      // trace: it is used, but a different size in the trace is not a change. A --namespace file is a statement.
      e.lbaSize = d.lba_size;
      if (d.source !== undefined) e.lbaFrom = d.source;
      if (d.blocks !== undefined) {
        e.blocks = d.blocks;
        e.blocksFrom = d.source ?? 'the shape';
      }
      if (d.read_only !== undefined) e.readOnly = d.read_only;
      if (d.unmap !== undefined) this.setUnmap(e, d.unmap);
    }
  }

  private entry(nsid: number): NsEntry | undefined {
    let e = this.ns.get(nsid);
    if (!e && this.ns.size < MAX_NAMESPACES) {
      e = { nsid, noticesAt: 0, formatsAt: 0, formats: 0, lostSeq: 0 };
      this.ns.set(nsid, e);
    }
    return e;
  }

  private setUnmap(e: NsEntry, u: UnmapBehaviour): void {
    e.unmap = u;
    if (u === 'zeroes') {
      e.dealloc ??= new IntervalSet(DEALLOC_CAP);
      e.mods ??= [];
    } else {
      e.dealloc = undefined;
      e.mods = undefined;
    }
  }

  get(nsid: number): NsEntry | undefined {
    return this.ns.get(nsid);
  }

  /** The LBA data size of a namespace: learnt or declared, else the first declared namespace's, else 512. */
  lbaSize(nsid: number): number {
    return this.ns.get(nsid)?.lbaSize ?? this.defaultLba;
  }

  blocks(nsid: number): number | undefined {
    return this.ns.get(nsid)?.blocks;
  }

  readOnly(nsid: number): boolean | undefined {
    return this.ns.get(nsid)?.readOnly;
  }

  unmap(nsid: number): UnmapBehaviour | undefined {
    return this.ns.get(nsid)?.unmap;
  }

  /** What a new observation changes, before it is applied (for the rules' scope). */
  compare(nsid: number): GeometryChange {
    const e = this.ns.get(nsid);
    return {
      prevBlocks: e?.blocks ?? null,
      prevLbaSize: e?.lbaFrom !== undefined ? (e.lbaSize ?? null) : null,
      prevBlocksFrom: e?.blocksFrom ?? null,
      prevLbaFrom: e?.lbaFrom ?? null,
      prevBlocksRef: e?.blocksRef,
      prevLbaRef: e?.lbaRef,
      resizeNotified: e ? this.notices > e.noticesAt : false,
      formatted: e ? e.formats > e.formatsAt : false,
    };
  }

  /** Applies what the trace showed about a namespace. */
  observe(nsid: number, o: NsObservation, from: string, ref: SourceRef): void {
    const e = this.entry(nsid);
    if (!e) return;
    if (o.blocks !== undefined) {
      if (e.blocks !== undefined && o.blocks < e.blocks) e.dealloc?.clip(o.blocks);
      e.blocks = o.blocks;
      e.blocksFrom = from;
      e.blocksRef = ref;
      e.noticesAt = this.notices;
    }
    if (o.lbaSize !== undefined) {
      if (e.lbaSize !== undefined && o.lbaSize !== e.lbaSize) this.forget(e);
      e.lbaSize = o.lbaSize;
      e.lbaFrom = from;
      e.lbaRef = ref;
      e.formatsAt = e.formats;
    }
    if (o.readOnly !== undefined) e.readOnly = o.readOnly;
    if (o.unmap !== undefined && o.unmap !== e.unmap) this.setUnmap(e, o.unmap);
  }

  /** A Namespace Attribute Changed notice, or a successful Namespace Management: sizes may change. */
  notice(ref: SourceRef): void {
    this.notices++;
    this.noticeRef = ref;
  }

  /** A successful Format NVM of one namespace (or of all, nsid FFFFFFFFh): LBA size and content may change. */
  formatted(nsid: number): void {
    const targets = nsid === 0xffffffff || nsid === 0 ? [...this.ns.values()] : [this.entry(nsid)];
    for (const e of targets) {
      if (!e) continue;
      e.formats++;
      this.forget(e);
    }
  }

  /** Content knowledge is lost (format, sanitize, a write whose range is unknown). */
  forget(e: NsEntry): void {
    if (!e.dealloc) return;
    e.dealloc.clear();
    this.record(e, 0, Number.MAX_SAFE_INTEGER);
  }

  forgetAll(): void {
    for (const e of this.ns.values()) this.forget(e);
  }

  private record(e: NsEntry, start: number, end: number): void {
    const mods = e.mods!;
    mods.push({ seq: ++this.seq, start, end });
    if (mods.length > MOD_LOG) e.lostSeq = mods.shift()!.seq;
  }

  /** Blocks [start, end) of a tracked namespace were deallocated (DSM Deallocate, Write Zeroes). */
  deallocated(nsid: number, start: number, end: number): void {
    const e = this.ns.get(nsid);
    if (!e?.dealloc) return;
    const limit = e.blocks ?? Number.MAX_SAFE_INTEGER;
    const s = Math.max(0, start);
    const t = Math.min(end, limit);
    if (!(t > s)) return;
    e.dealloc.add(s, t);
    this.record(e, s, t);
  }

  /** Blocks [start, end) were written (or may have been): no longer known to be deallocated. Undefined: all. */
  written(nsid: number, start?: number, end?: number): void {
    const e = this.ns.get(nsid);
    if (!e?.dealloc) return;
    if (start === undefined || end === undefined || !(end > start)) {
      this.forget(e);
      return;
    }
    e.dealloc.subtract(start, end);
    this.record(e, start, end);
  }

  /** True when the namespace tracks deallocated blocks (its unmap behaviour is zeroes). */
  tracks(nsid: number): boolean {
    return this.ns.get(nsid)?.dealloc !== undefined;
  }

  /**
   * Whether a read of [start, end) that was submitted when `seq` was the modification sequence saw only
   * deallocated blocks: true when the range is deallocated now and nothing touched it while the read was in
   * flight; null when that cannot be known (not tracked, or a modification in flight or forgotten).
   */
  readDeallocated(nsid: number, start: number, end: number, since: number): boolean | null {
    const e = this.ns.get(nsid);
    if (!e?.dealloc || !e.mods) return null;
    if (e.lostSeq > since) return null;
    for (const m of e.mods) if (m.seq > since && m.start < end && m.end > start) return null;
    return e.dealloc.covers(start, end);
  }
}
