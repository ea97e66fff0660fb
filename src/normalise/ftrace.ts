import type { TraceRecord } from '../parse/record.js';
import type { NvmeSpec } from '../specs/nvme.js';
import type { Ev } from './event.js';

/** `key=value, key=value` argument lists of nvme_setup_cmd's cmd=(NAME ARGS). */
export function parseArgs(args: string): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const part of args.split(', ')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    out[k] = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

function cdw10Bytes(v: number | string | undefined): number[] {
  return typeof v === 'string' ? v.split(' ').map((b) => parseInt(b, 16)) : [];
}

/** Linux ftrace nvme events -> normalised events. One setup_cmd line carries the command and its details. */
export function normaliseFtrace(r: TraceRecord, spec: NvmeSpec): Ev[] | undefined {
  const f = r.fields;
  const at = { line: r.line, raw: r.raw };
  if (r.name === 'nvme_complete_rq') {
    return [{ kind: 'cmd.complete', ...at, f: { sqid: f.qid, cid: f.cid, status: f.status, dw0: f.res } }];
  }
  if (r.name !== 'nvme_setup_cmd') return undefined;
  const qid = f.qid as number;
  const admin = qid === 0;
  const name = String(f.cmd);
  const args = parseArgs(String(f.args));
  let opc: number | undefined;
  // Unknown opcodes print as hex; opcode 0x7f is nvme_fabrics_command, which the kernel decodes as fctype.
  if (/^0x[0-9a-f]+$/i.test(name)) opc = parseInt(name, 16);
  else if (name.startsWith('nvme_fabrics_type_')) opc = 0x7f;
  else opc = spec.ftraceNames.get(name)?.def.opcode;
  const out: Ev[] = [{ kind: 'cmd.submit', ...at, f: { sqid: qid, cid: f.cid, opc, admin, nsid: admin ? f.nsid : f.nsid, opname: name } }];
  const d = (kind: string, fields: Ev['f']): void => void out.push({ kind, ...at, f: { cid: f.cid, ...fields } });
  switch (name) {
    case 'nvme_admin_create_cq': {
      const flags = Number(args.cq_flags ?? 0);
      d('cmd.create_cq', { cqid: args.cqid, qsize: args.qsize, pc: (flags & 1) === 1, ien: (flags & 2) === 2, vector: args.irq_vector });
      break;
    }
    case 'nvme_admin_create_sq': {
      const flags = Number(args.sq_flags ?? 0);
      d('cmd.create_sq', { sqid: args.sqid, cqid: args.cqid, qsize: args.qsize, pc: (flags & 1) === 1, qprio: (flags >> 1) & 3 });
      break;
    }
    case 'nvme_admin_delete_sq':
      d('cmd.delete_sq', { qid: args.sqid });
      break;
    case 'nvme_admin_delete_cq':
      d('cmd.delete_cq', { qid: args.cqid });
      break;
    case 'nvme_admin_identify':
      d('cmd.identify', { cns: args.cns, cntid: args.ctrlid, nsid: f.nsid });
      break;
    case 'nvme_admin_set_features':
      d('cmd.setfeat', { fid: args.fid, cdw11: args.cdw11 });
      if (args.fid === 7 && typeof args.cdw11 === 'number') {
        const cdw11 = args.cdw11;
        d('cmd.numq', { req_sq: (cdw11 & 0xffff) + 1, req_cq: (cdw11 >>> 16) + 1 });
      }
      break;
    case 'nvme_admin_get_log_page': {
      const b = cdw10Bytes(args.cdw10);
      if (b.length >= 4) d('cmd.get_log', { lid: b[0], len: (((b[2]! | (b[3]! << 8)) & 0xffff) + 1) * 4 });
      break;
    }
    case 'nvme_admin_dbbuf':
      d('cmd.dbbuf', {});
      break;
    case 'nvme_cmd_read':
    case 'nvme_cmd_write':
    case 'nvme_cmd_write_zeroes':
    case 'nvme_cmd_compare':
    case 'nvme_cmd_verify': {
      const op = name.slice('nvme_cmd_'.length);
      d('cmd.rw', { op, nsid: f.nsid, slba: args.slba, blocks: typeof args.len === 'number' ? args.len + 1 : undefined });
      break;
    }
    default:
      break;
  }
  return out;
}
