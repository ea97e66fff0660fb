import type { CanonRecord } from '../parse/canonical.js';
import type { FieldValue } from '../parse/template.js';
import type { Ev } from './event.js';

/**
 * A command's detail event is emitted when the line carries its identifying field (qid, cns, lid, fid, nlb,
 * prp1), the way QEMU prints a detail line only for what it processed.
 *
 * Canonical trace records -> the normalised event vocabulary (src/normalise/event.ts), the same events QEMU and
 * ftrace traces become, so the wire rules run on canonical traces unchanged; plus the authority kinds
 * (ledger.alloc, prp.list, irq.wait, teardown, ...) that src/model/authority.ts consumes. Every event carries
 * its author (`by=`) in Ev.author.
 *
 * One `cmd` line becomes cmd.submit followed by the command's details in the order QEMU prints them
 * (cmd.create_cq, cmd.identify, cmd.rw, ... then cmd.prp), so the controller model sees the same sequence.
 */

/** NVMe opcodes the normaliser must know to split a command into its details (NVMe Base 2.0 §5, NVM CS 1.0 §3). */
const ADMIN = { DELETE_SQ: 0x00, CREATE_SQ: 0x01, GET_LOG: 0x02, DELETE_CQ: 0x04, CREATE_CQ: 0x05, IDENTIFY: 0x06, SET_FEATURES: 0x09, DBBUF: 0x7c } as const;
const IO_RW: Record<number, string> = { 0x01: 'write', 0x02: 'read', 0x05: 'compare', 0x08: 'write_zeroes', 0x0c: 'verify' };

const REG_CC = 0x14;

export interface CanonicalNormaliserOptions {
  /** CAP.DSTRD, for doorbells given by queue id: the header's, else the shape's. */
  dstrd: number;
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
}

function bool(v: FieldValue | undefined): boolean | undefined {
  return v === undefined ? undefined : v === 1;
}


export class CanonicalNormaliser {
  /** CC.MPS, followed from CC writes: the memory page size PRP1's first length is computed with. */
  private mps = 0;
  private readonly stride: number;

  constructor(opts: CanonicalNormaliserOptions) {
    this.stride = 4 << opts.dstrd;
  }

  private pageSize(): number {
    return 4096 * 2 ** this.mps;
  }

  normalise(r: CanonRecord): Ev | Ev[] | undefined {
    const f = r.fields;
    const author = typeof f.by === 'string' ? f.by : undefined;
    const ev = (kind: string, fields: Ev['f']): Ev => (author === undefined ? { kind, line: r.line, raw: r.raw, f: fields } : { kind, line: r.line, raw: r.raw, author, f: fields });
    switch (r.name) {
      case 'reg.write': {
        const offset = num(f.off);
        const size = f.size === undefined ? 4 : num(f.size);
        if (offset === REG_CC) this.mps = (num(f.val) >>> 7) & 0xf;
        if (size === 8) {
          // One 64-bit access (ASQ, ACQ): the controller model follows registers as 32-bit halves.
          const v = BigInt(f.val as number | bigint);
          const lo = Number(v & 0xffffffffn);
          const hi = Number(v >> 32n);
          return [
            ev('reg.write', { offset, value: lo, size, ledger: f.ledger, handle: f.handle }),
            ev('reg.write', { offset: offset + 4, value: hi, size, handle: f.handle }),
          ];
        }
        return ev('reg.write', { offset, value: f.val, size, ledger: f.ledger, handle: f.handle });
      }
      case 'reg.read':
        return ev('reg.read', { offset: f.off, size: f.size ?? 4, value: f.val, handle: f.handle });
      case 'db': {
        let offset = f.off === undefined ? undefined : num(f.off);
        if (offset === undefined) offset = 0x1000 + (f.sq !== undefined ? 2 * num(f.sq) : 2 * num(f.cq) + 1) * this.stride;
        return ev('host.doorbell', { offset, value: f.val, handle: f.handle });
      }
      case 'ctrl.reset':
        return ev('ctrl.reset', { why: f.why ?? 'pci' });
      case 'cmd':
        return this.command(r, ev);
      case 'prp.list': {
        const entries = r.lists?.entries ?? [];
        const out: Ev[] = [ev('prp.list', { sqid: f.sq, cid: f.cid, addr: f.addr, entries: entries.length, next: f.next, ledger: f.ledger })];
        for (let i = 0; i < entries.length; i++) out.push(ev('prp.entry', { addr: entries[i]!, index: i }));
        return out;
      }
      case 'cqe':
        return ev('cmd.complete', { cid: f.cid, cqid: f.cq, sqid: f.sq, status: f.status, dw0: f.dw0, data_zero: bool(f.data_zero), data_digest: f.data_digest });
      case 'ns.geometry':
        return ev('ns.geometry', { nsid: f.nsid, lba_size: f.lba_size, blocks: f.blocks, read_only: bool(f.read_only), unmap: f.unmap });
      case 'irq':
        return ev('irq', { mode: f.mode ?? 'msix', vector: f.vector });
      case 'irq.wait':
      case 'irq.ack':
        return ev(r.name, { handle: f.handle, vector: f.vector });
      case 'ledger.alloc':
        return ev('ledger.alloc', { id: f.id, base: f.base, len: f.len, owner: f.owner, purpose: f.purpose, pool: f.pool });
      case 'ledger.free':
        return ev('ledger.free', { id: f.id, why: f.why });
      case 'handle.grant':
        return ev('handle.grant', { handle: f.handle, cap: f.cap, holder: f.holder, vector: f.vector, bar: f.bar });
      case 'handle.revoke':
        return ev('handle.revoke', { handle: f.handle, why: f.why });
      case 'teardown':
        return ev('teardown', { why: f.why, handles: f.handles, queues: f.queues, status: f.status });
      case 'msix.entry':
        return ev('msix.entry', { vector: f.vector, addr: f.addr, data: f.data, masked: bool(f.masked), ledger: f.ledger });
      case 'dma.policy':
        return ev(
          'dma.policy',
          { lane: f.lane, direct_dma: f.direct_dma, iova_export: f.iova_export, host_physical_user_visible: bool(f.host_physical_user_visible), prp_source: f.prp_source, real_dma: f.real_dma },
        );
      case 'bind':
        return ev('bind', { bdf: f.bdf, vendor: f.vendor, device: f.device, class: f.class, provider: f.provider });
      case 'device.error': {
        const { name, detail: _detail, by: _by, ...rest } = f;
        return ev('device.error', { event: name, ...rest });
      }
      default:
        return undefined;
    }
  }

  /** One command line: cmd.submit, then its details in QEMU's order, then its data pointer. */
  private command(r: CanonRecord, ev: (kind: string, fields: Ev['f']) => Ev): Ev[] {
    const f = r.fields;
    const sqid = num(f.sq);
    const admin = sqid === 0;
    const opc = f.opc === undefined ? undefined : num(f.opc);
    const out: Ev[] = [ev('cmd.submit', { sqid, cid: f.cid, opc, admin, nsid: f.nsid, opname: f.name })];
    const d = (kind: string, fields: Ev['f']): void => void out.push(ev(kind, fields));
    const prp1Ledger = f.prp1_ledger ?? f.ledger;
    let dataPointer = true;
    if (admin) {
      switch (opc) {
        case ADMIN.CREATE_CQ:
          if (f.qid !== undefined) d('cmd.create_cq', { cqid: f.qid, addr: f.prp1, qsize: f.qsize, pc: bool(f.pc) ?? false, ien: bool(f.ien) ?? false, vector: f.vector, addr_by: f.prp1_by, addr_ledger: prp1Ledger });
          dataPointer = false;
          break;
        case ADMIN.CREATE_SQ:
          if (f.qid !== undefined) d('cmd.create_sq', { sqid: f.qid, cqid: f.cqid, addr: f.prp1, qsize: f.qsize, pc: bool(f.pc) ?? false, qprio: f.qprio ?? 0, addr_by: f.prp1_by, addr_ledger: prp1Ledger });
          dataPointer = false;
          break;
        case ADMIN.DELETE_SQ:
          if (f.qid !== undefined) d('cmd.delete_sq', { qid: f.qid });
          break;
        case ADMIN.DELETE_CQ:
          if (f.qid !== undefined) d('cmd.delete_cq', { qid: f.qid });
          break;
        case ADMIN.IDENTIFY:
          if (f.cns !== undefined) d('cmd.identify', { cid: f.cid, cns: f.cns ?? 0, cntid: f.cntid ?? 0, csi: f.csi ?? 0, nsid: f.nsid });
          break;
        case ADMIN.GET_LOG:
          if (f.lid !== undefined) d('cmd.get_log', { cid: f.cid, lid: f.lid, len: f.len });
          break;
        case ADMIN.SET_FEATURES:
          if (f.fid !== undefined) d('cmd.setfeat', { cid: f.cid, fid: f.fid, cdw11: f.cdw11 });
          if (num(f.fid) === 7 && f.cdw11 !== undefined) {
            const cdw11 = num(f.cdw11);
            d('cmd.numq', { req_sq: (cdw11 & 0xffff) + 1, req_cq: (cdw11 >>> 16) + 1 });
          }
          break;
        case ADMIN.DBBUF:
          if (f.prp1 !== undefined || f.prp2 !== undefined) d('cmd.dbbuf', { dbs: f.prp1, eis: f.prp2, dbs_by: f.prp1_by, eis_by: f.prp2_by, dbs_ledger: prp1Ledger, eis_ledger: f.prp2_ledger });
          dataPointer = false;
          break;
        default:
          break;
      }
    } else if (f.nlb !== undefined) {
      const op = (opc !== undefined ? IO_RW[opc] : undefined) ?? 'io';
      const bytes = op === 'write_zeroes' ? undefined : (f.count ?? f.len);
      d('cmd.rw', { op, cid: f.cid, nsid: f.nsid, slba: f.slba, blocks: num(f.nlb) + 1, bytes, data_zero: bool(f.data_zero), data_digest: f.data_digest });
    }
    if (dataPointer && f.prp1 !== undefined && f.len !== undefined) {
      const len = num(f.len);
      const page = this.pageSize();
      const firstLen = f.first_len !== undefined ? num(f.first_len) : Math.min(len, page - (num(f.prp1) % page));
      d('cmd.prp', { prp1: f.prp1, prp2: f.prp2, len, first_len: firstLen, prp1_by: f.prp1_by, prp2_by: f.prp2_by, prp1_ledger: prp1Ledger, prp2_ledger: f.prp2_ledger });
    }
    if (typeof f.dsm === 'string') {
      for (const range of f.dsm.split(',')) {
        const plus = range.indexOf('+');
        d('cmd.dsm_range', { slba: Number(range.slice(0, plus)), blocks: Number(range.slice(plus + 1)) });
      }
    }
    return out;
  }
}
