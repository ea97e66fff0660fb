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

type Fields = TraceRecord['fields'];
type Normaliser = (f: Fields, r: TraceRecord) => Ev;

function mk(r: TraceRecord, kind: string, f: Ev['f']): Ev {
  return { kind, line: r.line, raw: r.raw, f };
}

/**
 * One small function per QEMU event, looked up by name: each is compiled (and optimised) on its own when its
 * event is hot. One switch over every event made a function V8 took ~30 ms of a 1M-line check to optimise.
 */
const BY_NAME = new Map<string, Normaliser>([
  ['pci_nvme_mmio_write', (f, r) => ((f.addr as number) >= 0x1000 ? mk(r, 'host.doorbell', { offset: f.addr, value: f.data }) : mk(r, 'reg.write', { offset: f.addr, value: f.data, size: f.size }))],
  ['pci_nvme_mmio_read', (f, r) => mk(r, 'reg.read', { offset: f.addr, size: f.size })],
  ['pci_nvme_pci_reset', (_f, r) => mk(r, 'ctrl.reset', { why: 'pci' })],
  ['pci_nvme_mmio_start_success', (_f, r) => mk(r, 'ctrl.enabled', {})],
  ['pci_nvme_mmio_stopped', (_f, r) => mk(r, 'ctrl.disabled', {})],
  ['pci_nvme_mmio_shutdown_set', (_f, r) => mk(r, 'ctrl.shutdown_set', {})],
  ['pci_nvme_mmio_shutdown_cleared', (_f, r) => mk(r, 'ctrl.shutdown_cleared', {})],
  ['pci_nvme_mmio_doorbell_sq', (f, r) => mk(r, 'ctrl.doorbell', { queue: 'sq', qid: f.sqid, value: f.new_tail, shadow: false })],
  ['pci_nvme_mmio_doorbell_cq', (f, r) => mk(r, 'ctrl.doorbell', { queue: 'cq', qid: f.cqid, value: f.new_head, shadow: false })],
  ['pci_nvme_shadow_doorbell_sq', (f, r) => mk(r, 'ctrl.doorbell', { queue: 'sq', qid: f.sqid, value: f.new_shadow_doorbell, shadow: true })],
  ['pci_nvme_shadow_doorbell_cq', (f, r) => mk(r, 'ctrl.doorbell', { queue: 'cq', qid: f.cqid, value: f.new_shadow_doorbell, shadow: true })],
  ['pci_nvme_admin_cmd', (f, r) => mk(r, 'cmd.submit', { sqid: f.sqid, cid: f.cid, opc: f.opcode, admin: true, opname: f.opname })],
  ['pci_nvme_io_cmd', (f, r) => mk(r, 'cmd.submit', { sqid: f.sqid, cid: f.cid, opc: f.opcode, admin: false, nsid: f.nsid, opname: f.opname })],
  ['pci_nvme_create_cq', (f, r) => mk(r, 'cmd.create_cq', { cqid: f.cqid, addr: f.addr, qsize: f.size, pc: ((f.qflags as number) & 1) === 1, ien: f.ien === 1, vector: f.vector })],
  ['pci_nvme_create_sq', (f, r) => mk(r, 'cmd.create_sq', { sqid: f.sqid, cqid: f.cqid, addr: f.addr, qsize: f.qsize, pc: ((f.qflags as number) & 1) === 1, qprio: ((f.qflags as number) >> 1) & 3 })],
  ['pci_nvme_del_sq', (f, r) => mk(r, 'cmd.delete_sq', { qid: f.qid })],
  ['pci_nvme_del_cq', (f, r) => mk(r, 'cmd.delete_cq', { qid: f.cqid })],
  ['pci_nvme_identify', (f, r) => mk(r, 'cmd.identify', { cid: f.cid, cns: f.cns, cntid: f.ctrlid, csi: f.csi })],
  ['pci_nvme_get_log', (f, r) => mk(r, 'cmd.get_log', { cid: f.cid, lid: f.lid, len: f.len, off: f.off })],
  ['pci_nvme_setfeat', (f, r) => mk(r, 'cmd.setfeat', { cid: f.cid, fid: f.fid, cdw11: f.cdw11 })],
  ['pci_nvme_setfeat_numq', (f, r) => mk(r, 'cmd.numq', { req_cq: f.reqcq, req_sq: f.reqsq, got_cq: f.gotcq, got_sq: f.gotsq })],
  ['pci_nvme_dbbuf_config', (f, r) => mk(r, 'cmd.dbbuf', { dbs: f.dbs_addr, eis: f.eis_addr })],
  ['pci_nvme_read', (f, r) => mk(r, 'cmd.rw', { op: 'read', cid: f.cid, nsid: f.nsid, slba: f.lba, blocks: f.nlb, bytes: f.count })],
  [
    'pci_nvme_write',
    (f, r) => {
      const zeroes = typeof f.verb === 'string' && f.verb.includes('ZEROES');
      return mk(r, 'cmd.rw', { op: zeroes ? 'write_zeroes' : 'write', cid: f.cid, nsid: f.nsid, slba: f.lba, blocks: f.nlb, bytes: zeroes ? undefined : f.count });
    },
  ],
  ['pci_nvme_map_prp', (f, r) => mk(r, 'cmd.prp', { prp1: f.prp1, prp2: f.prp2, len: f.len, first_len: f.trans_len })],
  ['pci_nvme_map_sgl', (f, r) => mk(r, 'cmd.sgl', { type: f.typ, len: f.len })],
  ['pci_nvme_dsm_deallocate', (f, r) => mk(r, 'cmd.dsm_range', { slba: f.slba, blocks: f.nlb })],
  ['pci_nvme_enqueue_req_completion', (f, r) => mk(r, 'cmd.complete', { cid: f.cid, cqid: f.cqid, status: f.status, dw0: f.dw0 })],
  ['pci_nvme_irq_msix', (f, r) => mk(r, 'irq', { mode: 'msix', vector: f.vector })],
  ['pci_nvme_irq_pin', (_f, r) => mk(r, 'irq', { mode: 'pin' })],
  ['pci_nvme_irq_masked', (_f, r) => mk(r, 'irq', { mode: 'masked' })],
]);

/** QEMU pci_nvme_* records -> normalised events. Redundant echo lines (mmio_cfg, mmio_asqaddr...) map to nothing. */
export function normaliseQemu(r: TraceRecord): Ev | undefined {
  if (r.cls !== 'info') return mk(r, 'device.error', { event: r.name, ...r.fields });
  const n = BY_NAME.get(r.name);
  return n === undefined ? undefined : n(r.fields, r);
}
