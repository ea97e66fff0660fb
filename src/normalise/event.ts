import type { FieldValue } from '../parse/template.js';
import type { LineTexts } from '../read/lines.js';
import { detach } from '../util/strings.js';

/**
 * The normalised event vocabulary: every trace format becomes this stream, so the model and the rules are
 * written once. `f` holds the event's values under canonical names. QEMU events map onto it as
 * specs/trace/qemu-normalise.yaml says (compiled by normalise/compile.ts).
 *
 *  reg.write {offset,value,size}   reg.read {offset,size}        host.doorbell {offset,value}
 *  ctrl.reset {why}                ctrl.enabled / ctrl.enable_failed {why} / ctrl.disabled
 *  ctrl.shutdown_set / ctrl.shutdown_cleared                      ctrl.doorbell {queue,qid,value,shadow}
 *  cmd.submit {sqid,cid,opc,admin,nsid?}   cmd.complete {cid,cqid?,sqid?,status,dw0}
 *  cmd.create_cq {cqid,addr?,qsize,pc,ien,vector}   cmd.create_sq {sqid,cqid,addr?,qsize,pc,qprio}
 *  cmd.delete_sq {qid}  cmd.delete_cq {qid}  cmd.identify {cns,cntid,csi,nsid?}  cmd.get_log {lid,len?}
 *  cmd.setfeat {fid,cdw11}  cmd.numq {req_cq,req_sq,got_cq?,got_sq?}  cmd.dbbuf {dbs?,eis?}
 *  cmd.rw {op,nsid,slba,blocks,bytes?}  cmd.prp {prp1,prp2,len,first_len}  cmd.sgl {type,len}
 *  cmd.dsm_range {slba,blocks}  irq {mode,vector?}  device.error {event,...fields}
 *
 * The disk contract (src/disk, specs/disk/contract.yaml) reads, besides cmd.rw, cmd.dsm_range and the QEMU
 * device errors pci_nvme_err_invalid_lba_range / pci_nvme_err_aio:
 *  ns.geometry {nsid, lba_size?, blocks?, read_only?, unmap?}   what Identify Namespace returned for a namespace
 *      (LBA data size = 2^LBADS of the format FLBAS selects, NSZE, NSATTR write protected, and what deallocated
 *      blocks read as: 'zeroes' | 'unspecified' | 'ignored' from DLFEAT). blocks=0 is an inactive namespace (its
 *      Identify data is all zeroes) and is ignored. A canonical trace's `ns.geometry` line becomes it.
 *  cmd.complete / cmd.rw ... data_zero? (boolean: a read's data was all zeroes), data_digest? ('sha256:<hex>' of
 *      the data): what a read returned, for reads of deallocated blocks.
 *
 * Canonical traces (src/normalise/canonical.ts, docs/canonical-trace.md) carry `author` (manager, provider,
 * kernel) on every action, and add the DMA-authority kinds src/model/authority.ts consumes:
 *  ledger.alloc {id,base,len,owner,purpose,pool?}   ledger.free {id,why?}
 *  handle.grant {handle,cap,holder,vector?,bar?}    handle.revoke {handle,why?}
 *  teardown {why,handles?,queues?,status?}          irq.wait / irq.ack {handle,vector?}
 *  prp.list {sqid?,cid?,addr,entries,next?,ledger?} followed by one prp.entry {addr,index} per entry
 *  msix.entry {vector,addr,data,masked?,ledger?}    dma.policy {lane?,direct_dma?,iova_export?,host_physical_user_visible?,prp_source?}
 *  bind {bdf,vendor?,device?,class?,provider?}      ns.geometry {nsid,lba_size?,blocks?,read_only?,unmap?}
 * and, on address-bearing details, who wrote an address and the ledger region it names: cmd.prp
 * {prp1_by?,prp2_by?,prp1_ledger?,prp2_ledger?}, cmd.create_cq/sq {addr_by?,addr_ledger?}, cmd.dbbuf
 * {dbs_by?,eis_by?,dbs_ledger?,eis_ledger?}, reg.write {ledger?,handle?}, host.doorbell {handle?}.
 *
 * Fields carried by a QEMU detail line (cmd.rw, cmd.prp, ...) without a queue id refer to the command the
 * controller is processing: the model attaches them to the last submitted command.
 */
export interface Ev {
  kind: string;
  line: number;
  raw: string;
  author?: string;
  f: Record<string, FieldValue | boolean | undefined>;
}

/**
 * An event of a typed QEMU line (normalise/compile.ts typedNormaliser): its text is cut from the batch only
 * when something reads it. Most events never are: the text is for findings, and for commands, which keep it.
 * Read `raw` while the batch is current; what must outlive it takes `lastingRaw`.
 */
export class TypedEv implements Ev {
  constructor(
    readonly kind: string,
    readonly line: number,
    private readonly texts: LineTexts,
    private readonly at: number,
    readonly f: Ev['f'],
  ) {}

  get raw(): string {
    return this.texts.line(this.at);
  }

  lasting(): string {
    return this.texts.lasting(this.at);
  }

  /** Where the line is in the trace file, or -1 when that is not known. */
  where(): number {
    return this.texts.where(this.at);
  }

  byteLength(): number {
    return this.texts.byteLength(this.at);
  }
}

/**
 * A line's text kept beyond its batch: the text itself, or (raw undefined) where the line is in the trace
 * file, to be read back only if a finding cites it (read/lines.ts TraceFileText). Commands keep their line so:
 * decoding the line of every command, most of which complete unremarked a few lines later, cost ~5% of a check.
 */
export interface KeptText {
  raw: string | undefined;
  rawAt: number;
  rawLen: number;
}

export function keepText(ev: Ev, into: KeptText): void {
  if (ev instanceof TypedEv) {
    const at = ev.where();
    if (at >= 0) {
      into.rawAt = at;
      into.rawLen = ev.byteLength();
      return;
    }
  }
  into.raw = lastingRaw(ev);
}

/**
 * An event's text, to keep: a command can stay outstanding for the whole trace (an Async Event Request), and
 * the line it holds must not pin its 64 KiB chunk (util/strings.ts detach).
 */
export function lastingRaw(ev: Ev): string {
  return ev instanceof TypedEv ? ev.lasting() : detach(ev.raw);
}
