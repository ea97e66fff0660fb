import type { FieldValue } from '../parse/template.js';

/**
 * The normalised event vocabulary: every trace format becomes this stream, so the model and the rules are
 * written once. `f` holds the event's values under canonical names.
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
