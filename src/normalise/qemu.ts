import type { TraceRecord } from '../parse/record.js';
import type { Ev } from './event.js';

/** The QEMU events whose normalised form the controller model consumes; the parser may skip the rest. */
export const QEMU_MODEL_EVENTS = new Set([
  'pci_nvme_mmio_write',
  'pci_nvme_mmio_read',
  'pci_nvme_pci_reset',
  'pci_nvme_admin_cmd',
  'pci_nvme_io_cmd',
  'pci_nvme_create_cq',
  'pci_nvme_create_sq',
  'pci_nvme_del_sq',
  'pci_nvme_del_cq',
  'pci_nvme_identify',
  'pci_nvme_get_log',
  'pci_nvme_setfeat',
  'pci_nvme_setfeat_numq',
  'pci_nvme_dbbuf_config',
  'pci_nvme_read',
  'pci_nvme_write',
  'pci_nvme_map_prp',
  'pci_nvme_map_sgl',
  'pci_nvme_dsm_deallocate',
  'pci_nvme_enqueue_req_completion',
]);

function mk(r: TraceRecord, kind: string, f: Ev['f']): Ev {
  return { kind, line: r.line, raw: r.raw, f };
}

/** QEMU pci_nvme_* records -> normalised events. Redundant echo lines (mmio_cfg, mmio_asqaddr...) map to nothing. */
export function normaliseQemu(r: TraceRecord): Ev | undefined {
  const f = r.fields;
  // mk() is a module-level function, not a closure made per record: this runs for every event the model reads.
  if (r.cls !== 'info') return mk(r, 'device.error', { event: r.name, ...f });
  switch (r.name) {
    case 'pci_nvme_mmio_write':
      return (f.addr as number) >= 0x1000
        ? mk(r, 'host.doorbell', { offset: f.addr, value: f.data })
        : mk(r, 'reg.write', { offset: f.addr, value: f.data, size: f.size });
    case 'pci_nvme_mmio_read':
      return mk(r, 'reg.read', { offset: f.addr, size: f.size });
    case 'pci_nvme_pci_reset':
      return mk(r, 'ctrl.reset', { why: 'pci' });
    case 'pci_nvme_mmio_start_success':
      return mk(r, 'ctrl.enabled', {});
    case 'pci_nvme_mmio_stopped':
      return mk(r, 'ctrl.disabled', {});
    case 'pci_nvme_mmio_shutdown_set':
      return mk(r, 'ctrl.shutdown_set', {});
    case 'pci_nvme_mmio_shutdown_cleared':
      return mk(r, 'ctrl.shutdown_cleared', {});
    case 'pci_nvme_mmio_doorbell_sq':
      return mk(r, 'ctrl.doorbell', { queue: 'sq', qid: f.sqid, value: f.new_tail, shadow: false });
    case 'pci_nvme_mmio_doorbell_cq':
      return mk(r, 'ctrl.doorbell', { queue: 'cq', qid: f.cqid, value: f.new_head, shadow: false });
    case 'pci_nvme_shadow_doorbell_sq':
      return mk(r, 'ctrl.doorbell', { queue: 'sq', qid: f.sqid, value: f.new_shadow_doorbell, shadow: true });
    case 'pci_nvme_shadow_doorbell_cq':
      return mk(r, 'ctrl.doorbell', { queue: 'cq', qid: f.cqid, value: f.new_shadow_doorbell, shadow: true });
    case 'pci_nvme_admin_cmd':
      return mk(r, 'cmd.submit', { sqid: f.sqid, cid: f.cid, opc: f.opcode, admin: true, opname: f.opname });
    case 'pci_nvme_io_cmd':
      return mk(r, 'cmd.submit', { sqid: f.sqid, cid: f.cid, opc: f.opcode, admin: false, nsid: f.nsid, opname: f.opname });
    case 'pci_nvme_create_cq':
      return mk(r, 'cmd.create_cq', { cqid: f.cqid, addr: f.addr, qsize: f.size, pc: ((f.qflags as number) & 1) === 1, ien: f.ien === 1, vector: f.vector });
    case 'pci_nvme_create_sq':
      return mk(r, 'cmd.create_sq', { sqid: f.sqid, cqid: f.cqid, addr: f.addr, qsize: f.qsize, pc: ((f.qflags as number) & 1) === 1, qprio: ((f.qflags as number) >> 1) & 3 });
    case 'pci_nvme_del_sq':
      return mk(r, 'cmd.delete_sq', { qid: f.qid });
    case 'pci_nvme_del_cq':
      return mk(r, 'cmd.delete_cq', { qid: f.cqid });
    case 'pci_nvme_identify':
      return mk(r, 'cmd.identify', { cid: f.cid, cns: f.cns, cntid: f.ctrlid, csi: f.csi });
    case 'pci_nvme_get_log':
      return mk(r, 'cmd.get_log', { cid: f.cid, lid: f.lid, len: f.len, off: f.off });
    case 'pci_nvme_setfeat':
      return mk(r, 'cmd.setfeat', { cid: f.cid, fid: f.fid, cdw11: f.cdw11 });
    case 'pci_nvme_setfeat_numq':
      return mk(r, 'cmd.numq', { req_cq: f.reqcq, req_sq: f.reqsq, got_cq: f.gotcq, got_sq: f.gotsq });
    case 'pci_nvme_dbbuf_config':
      return mk(r, 'cmd.dbbuf', { dbs: f.dbs_addr, eis: f.eis_addr });
    case 'pci_nvme_read':
      return mk(r, 'cmd.rw', { op: 'read', cid: f.cid, nsid: f.nsid, slba: f.lba, blocks: f.nlb, bytes: f.count });
    case 'pci_nvme_write': {
      const zeroes = typeof f.verb === 'string' && f.verb.includes('ZEROES');
      return mk(r, 'cmd.rw', { op: zeroes ? 'write_zeroes' : 'write', cid: f.cid, nsid: f.nsid, slba: f.lba, blocks: f.nlb, bytes: zeroes ? undefined : f.count });
    }
    case 'pci_nvme_map_prp':
      return mk(r, 'cmd.prp', { prp1: f.prp1, prp2: f.prp2, len: f.len, first_len: f.trans_len });
    case 'pci_nvme_map_sgl':
      return mk(r, 'cmd.sgl', { type: f.typ, len: f.len });
    case 'pci_nvme_dsm_deallocate':
      return mk(r, 'cmd.dsm_range', { slba: f.slba, blocks: f.nlb });
    case 'pci_nvme_enqueue_req_completion':
      return mk(r, 'cmd.complete', { cid: f.cid, cqid: f.cqid, status: f.status, dw0: f.dw0 });
    case 'pci_nvme_irq_msix':
      return mk(r, 'irq', { mode: 'msix', vector: f.vector });
    case 'pci_nvme_irq_pin':
      return mk(r, 'irq', { mode: 'pin' });
    case 'pci_nvme_irq_masked':
      return mk(r, 'irq', { mode: 'masked' });
    default:
      return undefined;
  }
}
