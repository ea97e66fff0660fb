import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { loadSpecFile } from '../src/specs/load.js';
import { specPath } from '../src/util/paths.js';
import { EXAMPLES, readLines } from './helpers.js';

/*
 * Consistency checks of the NVMe wire-subset specs (specs/nvme/*.yaml): bit fields fit and do
 * not overlap, identifiers are unique, and the values agree with what QEMU 7.2 and Linux 6.1
 * print in the real traces under examples/.
 */

type Bits = [number, number];
interface Value { value: number; name: string; meaning: string }
interface Flag { bit: number; name: string; meaning: string }
interface RegField { name: string; bits: Bits; access: string; values?: Value[]; flags?: Flag[]; zeroes_based?: boolean }
interface Register { name: string; offset: number; width: 32 | 64; access: string; section: string; fields: RegField[] }
interface Doorbell { offset: string; bits: Bits }
interface Registers {
  registers: Register[];
  doorbells: { base: number; stride_bytes: string; sq_tail: Doorbell; cq_head: Doorbell; shadow?: { enabled_by: string } };
}
interface CmdField { name: string; dword?: number; dwords?: [number, number]; bits: Bits; zeroes_based?: boolean; values?: Value[] }
interface AddressField { name: string; dwords: [number, number]; bits: Bits; alignment: string }
interface Command {
  opcode: number;
  name: string;
  section: string;
  data: 'from-host' | 'to-host' | 'none' | 'bidirectional';
  data_pointer: boolean;
  nsid: string;
  qemu_opname: string | null;
  ftrace_name: string | null;
  fields: CmdField[];
  address_fields: AddressField[];
}
interface Commands {
  naming: { qemu_unknown_admin: string; qemu_unknown_io: string; ftrace_fabrics_opcode: number };
  sqe: { size_bytes: number; fields: CmdField[] };
  cqe: { size_bytes: number; fields: CmdField[] };
  admin: Command[];
  io: Command[];
  features: { fid: number; name: string; qemu_supported: boolean; fields?: CmdField[]; result_fields?: CmdField[] }[];
  log_pages: { lid: number; name: string; qemu_supported: boolean }[];
  identify_cns: { cns: number; name: string }[];
}
interface StatusCode { sct: number; sc: number; name: string; title: string; qemu_name?: string; commands?: string[] }
interface StatusCodes {
  status_field: { name: string; bits: Bits }[];
  types: { sct: number; name: string }[];
  codes: StatusCode[];
  qemu_aliases?: { status: number; qemu_name: string; sct: number; sc: number }[];
}

const regs = loadSpecFile<Registers>(specPath('nvme', 'registers.yaml'), 'nvme-registers').data;
const cmds = loadSpecFile<Commands>(specPath('nvme', 'commands.yaml'), 'nvme-commands').data;
const stat = loadSpecFile<StatusCodes>(specPath('nvme', 'status-codes.yaml'), 'nvme-status-codes').data;

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function dupes<T>(items: T[]): T[] {
  const seen = new Set<T>();
  const out: T[] = [];
  for (const i of items) {
    if (seen.has(i)) out.push(i);
    seen.add(i);
  }
  return out;
}

/** Extracts bits [hi, lo] of a value. */
function get(value: bigint, [hi, lo]: Bits): bigint {
  return (value >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
}

/** Absolute bit ranges so fields of different widths/dwords can be compared for overlap. */
function overlaps(ranges: { name: string; lo: number; hi: number }[]): string[] {
  const out: string[] = [];
  const sorted = [...ranges].sort((a, b) => a.lo - b.lo);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.lo <= a.hi) out.push(`${a.name} [${a.hi}:${a.lo}] overlaps ${b.name} [${b.hi}:${b.lo}]`);
  }
  return out;
}

function cmdFieldRange(f: CmdField): { name: string; lo: number; hi: number } {
  const base = (f.dword ?? f.dwords![0]) * 32;
  return { name: f.name, lo: base + f.bits[1], hi: base + f.bits[0] };
}

/** Checks one command-style field list: bits fit their dword(s), dword pairs are consecutive, nothing overlaps. */
function checkCmdFields(owner: string, fields: CmdField[], maxDword: number): void {
  expect(dupes(fields.map((f) => f.name)), `${owner}: duplicate field names`).toEqual([]);
  for (const f of fields) {
    const [hi, lo] = f.bits;
    expect(hi, `${owner}.${f.name}: high bit below low bit`).toBeGreaterThanOrEqual(lo);
    if (f.dwords) {
      expect(f.dwords[1], `${owner}.${f.name}: dword pair must be consecutive`).toBe(f.dwords[0] + 1);
      expect(hi, `${owner}.${f.name}: bit beyond the dword pair`).toBeLessThan(64);
      expect(f.dwords[1], `${owner}.${f.name}: dword out of the entry`).toBeLessThanOrEqual(maxDword);
    } else {
      expect(hi, `${owner}.${f.name}: bit beyond the dword`).toBeLessThan(32);
      expect(f.dword!, `${owner}.${f.name}: dword out of the entry`).toBeLessThanOrEqual(maxDword);
    }
    for (const v of f.values ?? []) expect(BigInt(v.value), `${owner}.${f.name}=${v.name} does not fit`).toBeLessThan(1n << BigInt(hi - lo + 1));
    expect(dupes((f.values ?? []).map((v) => v.value)), `${owner}.${f.name}: duplicate values`).toEqual([]);
  }
  expect(overlaps(fields.map(cmdFieldRange)), `${owner}: overlapping fields`).toEqual([]);
}

// ---------------------------------------------------------------- registers

describe('specs/nvme/registers.yaml', () => {
  const byName = new Map(regs.registers.map((r) => [r.name, r]));
  const field = (reg: string, name: string): RegField => {
    const f = byName.get(reg)?.fields.find((x) => x.name === name);
    if (!f) throw new Error(`${reg}.${name} missing`);
    return f;
  };
  const decode = (reg: string, value: bigint): Record<string, number> =>
    Object.fromEntries(byName.get(reg)!.fields.map((f) => [f.name, Number(get(value, f.bits))]));

  it('register names are unique and registers do not overlap, are naturally aligned and end before the doorbells', () => {
    expect(dupes(regs.registers.map((r) => r.name))).toEqual([]);
    const ranges = regs.registers.map((r) => ({ name: r.name, lo: r.offset, hi: r.offset + r.width / 8 - 1 }));
    expect(overlaps(ranges)).toEqual([]);
    for (const r of regs.registers) {
      expect(r.offset % (r.width / 8), `${r.name} at ${hex(r.offset)} not aligned to its width`).toBe(0);
      expect(r.offset + r.width / 8, `${r.name} runs into the doorbells`).toBeLessThanOrEqual(regs.doorbells.base);
    }
  });

  it('every field fits its register width, fields do not overlap, values and flags fit their field', () => {
    for (const r of regs.registers) {
      expect(dupes(r.fields.map((f) => f.name)), `${r.name}: duplicate field names`).toEqual([]);
      for (const f of r.fields) {
        const [hi, lo] = f.bits;
        expect(hi, `${r.name}.${f.name}: high bit below low bit`).toBeGreaterThanOrEqual(lo);
        expect(hi, `${r.name}.${f.name}: beyond the ${r.width}-bit register`).toBeLessThan(r.width);
        const width = hi - lo + 1;
        for (const v of f.values ?? []) expect(BigInt(v.value), `${r.name}.${f.name}=${v.name}`).toBeLessThan(1n << BigInt(width));
        for (const g of f.flags ?? []) expect(g.bit, `${r.name}.${f.name} flag ${g.name}`).toBeLessThan(width);
        expect(dupes((f.values ?? []).map((v) => v.value)), `${r.name}.${f.name}: duplicate values`).toEqual([]);
        if (r.access !== 'mixed') expect(f.access, `${r.name}.${f.name}: access differs from the register's; use mixed`).toBe(r.access);
      }
      expect(overlaps(r.fields.map((f) => ({ name: f.name, lo: f.bits[1], hi: f.bits[0] }))), `${r.name}: overlapping fields`).toEqual([]);
    }
  });

  it('has the registers and fields a driver touches, at their offsets', () => {
    const expected: Record<string, [number, number, string[]]> = {
      CAP: [0x00, 64, ['MQES', 'CQR', 'AMS', 'TO', 'DSTRD', 'NSSRS', 'CSS', 'BPS', 'CPS', 'MPSMIN', 'MPSMAX', 'PMRS', 'CMBS', 'NSSS', 'CRMS']],
      VS: [0x08, 32, ['MJR', 'MNR', 'TER']],
      INTMS: [0x0c, 32, ['IVMS']],
      INTMC: [0x10, 32, ['IVMC']],
      CC: [0x14, 32, ['EN', 'CSS', 'MPS', 'AMS', 'SHN', 'IOSQES', 'IOCQES', 'CRIME']],
      CSTS: [0x1c, 32, ['RDY', 'CFS', 'SHST', 'NSSRO', 'PP', 'ST']],
      NSSR: [0x20, 32, ['NSSRC']],
      AQA: [0x24, 32, ['ASQS', 'ACQS']],
      ASQ: [0x28, 64, ['ASQB']],
      ACQ: [0x30, 64, ['ACQB']],
      CMBLOC: [0x38, 32, ['BIR', 'OFST']],
      CMBSZ: [0x3c, 32, ['SZU', 'SZ']],
      BPINFO: [0x40, 32, ['BPSZ', 'BRS', 'ABPID']],
      BPRSEL: [0x44, 32, ['BPRSZ', 'BPROF', 'BPID']],
      BPMBL: [0x48, 64, ['BMBBA']],
      CMBMSC: [0x50, 64, ['CRE', 'CMSE', 'CBA']],
      CMBSTS: [0x58, 32, ['CBAI']],
      PMRCAP: [0xe00, 32, ['BIR', 'PMRTO']],
      PMRCTL: [0xe04, 32, ['EN']],
      PMRSTS: [0xe08, 32, ['NRDY', 'HSTS']],
      PMREBS: [0xe0c, 32, ['PMRSZU', 'PMRWBZ']],
      PMRSWTP: [0xe10, 32, ['PMRSWTU', 'PMRSWTV']],
      PMRMSCL: [0xe14, 32, ['CMSE', 'CBA']],
      PMRMSCU: [0xe18, 32, ['CBA']],
    };
    for (const [name, [offset, width, fields]] of Object.entries(expected)) {
      const r = byName.get(name);
      expect(r, `${name} missing`).toBeDefined();
      expect(hex(r!.offset), `${name} offset`).toBe(hex(offset));
      expect(r!.width, `${name} width`).toBe(width);
      for (const f of fields) field(name, f);
    }
    expect(field('ASQ', 'ASQB').bits).toEqual([63, 12]);
    expect(field('ACQ', 'ACQB').bits).toEqual([63, 12]);
    expect(field('AQA', 'ASQS').bits).toEqual([11, 0]);
    expect(field('AQA', 'ACQS').bits).toEqual([27, 16]);
    expect(field('CAP', 'DSTRD').bits).toEqual([35, 32]);
    expect(field('CSTS', 'NSSRO').access).toBe('RWC');
  });

  it('enumerates the values of CC.SHN, CSTS.SHST, CC.CSS and CC.AMS', () => {
    const names = (reg: string, f: string): Record<number, string> =>
      Object.fromEntries((field(reg, f).values ?? []).map((v) => [v.value, v.name]));
    expect(names('CC', 'SHN')).toMatchObject({ 0: 'NONE', 1: 'NORMAL', 2: 'ABRUPT' });
    expect(names('CSTS', 'SHST')).toMatchObject({ 0: 'NORMAL_OPERATION', 1: 'OCCURRING', 2: 'COMPLETE' });
    expect(names('CC', 'CSS')).toMatchObject({ 0: 'NVM', 6: 'ALL_SUPPORTED_IO', 7: 'ADMIN_ONLY' });
    expect(names('CC', 'AMS')).toMatchObject({ 0: 'ROUND_ROBIN', 1: 'WRR_URGENT', 7: 'VENDOR_SPECIFIC' });
  });

  it("decodes QEMU 7.2's CAP (0x4018200f0107ff) to the limits Linux logs", () => {
    expect(decode('CAP', 0x4018200f0107ffn)).toMatchObject({
      MQES: 2047, CQR: 1, AMS: 0, TO: 15, DSTRD: 0, NSSRS: 0, CSS: 0xc1, BPS: 0, MPSMIN: 0, MPSMAX: 4, PMRS: 0, CMBS: 0,
    });
  });

  it('decodes the CC, CSTS and AQA values seen in the traces', () => {
    // Linux: CC=0x460060 then 0x460061 (EN, CSS=110b, 64-byte SQEs, 16-byte CQEs); shutdown 0x464061.
    expect(decode('CC', 0x460061n)).toMatchObject({ EN: 1, CSS: 6, MPS: 0, AMS: 0, SHN: 0, IOSQES: 6, IOCQES: 4, CRIME: 0 });
    expect(decode('CC', 0x464061n)).toMatchObject({ EN: 1, SHN: 1 });
    // SeaBIOS enables in one write with CSS=000b.
    expect(decode('CC', 0x460001n)).toMatchObject({ EN: 1, CSS: 0, IOSQES: 6, IOCQES: 4 });
    // Abrupt shutdown complete: CSTS=0x9; failed enable: CSTS=0x2.
    expect(decode('CSTS', 0x9n)).toMatchObject({ RDY: 1, CFS: 0, SHST: 2 });
    expect(decode('CSTS', 0x2n)).toMatchObject({ RDY: 0, CFS: 1, SHST: 0 });
    // AQA: SeaBIOS 0xff003f (64-entry SQ, 256-entry CQ), Linux 0x1f001f.
    expect(decode('AQA', 0xff003fn)).toMatchObject({ ASQS: 63, ACQS: 255 });
    expect(decode('AQA', 0x1f001fn)).toMatchObject({ ASQS: 31, ACQS: 31 });
  });

  it('places the doorbells of queue qid at 0x1000 + (2*qid [+1]) * (4 << CAP.DSTRD)', () => {
    const evalOffset = (expr: string, qid: number, dstrd: number): number => {
      const e = expr.replace(/CAP\.DSTRD/g, String(dstrd)).replace(/\bqid\b/g, String(qid));
      expect(e, `unexpected token in doorbell offset ${expr}`).toMatch(/^[0-9a-fx+*()<\s]+$/);
      return Function(`"use strict"; return (${e});`)() as number;
    };
    expect(regs.doorbells.base).toBe(0x1000);
    expect(evalOffset(regs.doorbells.sq_tail.offset, 0, 0)).toBe(0x1000);
    expect(evalOffset(regs.doorbells.cq_head.offset, 0, 0)).toBe(0x1004);
    expect(evalOffset(regs.doorbells.sq_tail.offset, 1, 0)).toBe(0x1008);
    expect(evalOffset(regs.doorbells.cq_head.offset, 2, 0)).toBe(0x1014);
    expect(evalOffset(regs.doorbells.sq_tail.offset, 2, 1)).toBe(0x1020);
    expect(evalOffset(regs.doorbells.cq_head.offset, 2, 1)).toBe(0x1028);
    expect(regs.doorbells.sq_tail.bits).toEqual([15, 0]);
    expect(regs.doorbells.cq_head.bits).toEqual([15, 0]);
    const shadow = regs.doorbells.shadow;
    if (shadow) expect(cmds.admin.some((c) => c.name === shadow.enabled_by)).toBe(true);
  });
});

// ---------------------------------------------------------------- commands

/** Linux 6.1 nvme_setup_cmd symbol tables (include/linux/nvme.h values of the names in its print fmt). */
const LINUX_ADMIN: Record<string, number> = {
  nvme_admin_delete_sq: 0x00, nvme_admin_create_sq: 0x01, nvme_admin_get_log_page: 0x02, nvme_admin_delete_cq: 0x04,
  nvme_admin_create_cq: 0x05, nvme_admin_identify: 0x06, nvme_admin_abort_cmd: 0x08, nvme_admin_set_features: 0x09,
  nvme_admin_get_features: 0x0a, nvme_admin_async_event: 0x0c, nvme_admin_ns_mgmt: 0x0d, nvme_admin_activate_fw: 0x10,
  nvme_admin_download_fw: 0x11, nvme_admin_ns_attach: 0x15, nvme_admin_keep_alive: 0x18, nvme_admin_directive_send: 0x19,
  nvme_admin_directive_recv: 0x1a, nvme_admin_dbbuf: 0x7c, nvme_admin_format_nvm: 0x80, nvme_admin_security_send: 0x81,
  nvme_admin_security_recv: 0x82, nvme_admin_sanitize_nvm: 0x84, nvme_admin_get_lba_status: 0x86,
};
const LINUX_IO: Record<string, number> = {
  nvme_cmd_flush: 0x00, nvme_cmd_write: 0x01, nvme_cmd_read: 0x02, nvme_cmd_write_uncor: 0x04, nvme_cmd_compare: 0x05,
  nvme_cmd_write_zeroes: 0x08, nvme_cmd_dsm: 0x09, nvme_cmd_resv_register: 0x0d, nvme_cmd_resv_report: 0x0e,
  nvme_cmd_resv_acquire: 0x11, nvme_cmd_resv_release: 0x15, nvme_cmd_zone_mgmt_send: 0x79, nvme_cmd_zone_mgmt_recv: 0x7a,
  nvme_cmd_zone_append: 0x7d,
};
/** QEMU 7.2 hw/nvme/nvme.h nvme_adm_opc_str() / nvme_io_opc_str(). */
const QEMU_ADMIN: Record<string, number> = {
  NVME_ADM_CMD_DELETE_SQ: 0x00, NVME_ADM_CMD_CREATE_SQ: 0x01, NVME_ADM_CMD_GET_LOG_PAGE: 0x02, NVME_ADM_CMD_DELETE_CQ: 0x04,
  NVME_ADM_CMD_CREATE_CQ: 0x05, NVME_ADM_CMD_IDENTIFY: 0x06, NVME_ADM_CMD_ABORT: 0x08, NVME_ADM_CMD_SET_FEATURES: 0x09,
  NVME_ADM_CMD_GET_FEATURES: 0x0a, NVME_ADM_CMD_ASYNC_EV_REQ: 0x0c, NVME_ADM_CMD_NS_ATTACHMENT: 0x15,
  NVME_ADM_CMD_VIRT_MNGMT: 0x1c, NVME_ADM_CMD_DBBUF_CONFIG: 0x7c, NVME_ADM_CMD_FORMAT_NVM: 0x80,
};
const QEMU_IO: Record<string, number> = {
  NVME_NVM_CMD_FLUSH: 0x00, NVME_NVM_CMD_WRITE: 0x01, NVME_NVM_CMD_READ: 0x02, NVME_NVM_CMD_COMPARE: 0x05,
  NVME_NVM_CMD_WRITE_ZEROES: 0x08, NVME_NVM_CMD_DSM: 0x09, NVME_NVM_CMD_VERIFY: 0x0c, NVME_NVM_CMD_COPY: 0x19,
  NVME_ZONED_CMD_MGMT_SEND: 0x79, NVME_ZONED_CMD_MGMT_RECV: 0x7a, NVME_ZONED_CMD_ZONE_APPEND: 0x7d,
};

const DIRECTION = ['none', 'from-host', 'to-host', 'bidirectional'] as const;

describe('specs/nvme/commands.yaml', () => {
  const sets: [string, Command[]][] = [['admin', cmds.admin], ['io', cmds.io]];

  it('opcodes and names are unique per set; names are unique overall', () => {
    for (const [set, list] of sets) {
      expect(dupes(list.map((c) => c.opcode)), `${set}: duplicate opcodes`).toEqual([]);
    }
    expect(dupes([...cmds.admin, ...cmds.io].map((c) => c.name)), 'duplicate command names').toEqual([]);
  });

  it('has every admin and I/O opcode QEMU 7.2 or Linux 6.1 uses', () => {
    const admin = new Map(cmds.admin.map((c) => [c.name, c.opcode]));
    const io = new Map(cmds.io.map((c) => [c.name, c.opcode]));
    const wantAdmin: Record<string, number> = {
      DELETE_SQ: 0x00, CREATE_SQ: 0x01, GET_LOG_PAGE: 0x02, DELETE_CQ: 0x04, CREATE_CQ: 0x05, IDENTIFY: 0x06, ABORT: 0x08,
      SET_FEATURES: 0x09, GET_FEATURES: 0x0a, ASYNC_EVENT_REQUEST: 0x0c, NS_MANAGEMENT: 0x0d, FW_COMMIT: 0x10,
      FW_DOWNLOAD: 0x11, DEVICE_SELF_TEST: 0x14, NS_ATTACHMENT: 0x15, KEEP_ALIVE: 0x18, DIRECTIVE_SEND: 0x19,
      DIRECTIVE_RECV: 0x1a, VIRTUALIZATION_MANAGEMENT: 0x1c, NVME_MI_SEND: 0x1d, NVME_MI_RECV: 0x1e,
      DOORBELL_BUFFER_CONFIG: 0x7c, FORMAT_NVM: 0x80, SECURITY_SEND: 0x81, SECURITY_RECV: 0x82, SANITIZE: 0x84,
      GET_LBA_STATUS: 0x86,
    };
    const wantIo: Record<string, number> = {
      FLUSH: 0x00, WRITE: 0x01, READ: 0x02, WRITE_UNCORRECTABLE: 0x04, COMPARE: 0x05, WRITE_ZEROES: 0x08, DSM: 0x09,
      VERIFY: 0x0c, RESV_REGISTER: 0x0d, RESV_REPORT: 0x0e, RESV_ACQUIRE: 0x11, RESV_RELEASE: 0x15, COPY: 0x19,
      ZONE_MGMT_SEND: 0x79, ZONE_MGMT_RECV: 0x7a, ZONE_APPEND: 0x7d,
    };
    for (const [n, op] of Object.entries(wantAdmin)) expect(admin.get(n), `admin ${n}`).toBe(op);
    for (const [n, op] of Object.entries(wantIo)) expect(io.get(n), `io ${n}`).toBe(op);
  });

  it('QEMU opnames are unique and match QEMU 7.2 opcode-name tables exactly', () => {
    const all = [...cmds.admin, ...cmds.io].map((c) => c.qemu_opname).filter((n): n is string => n !== null);
    expect(dupes(all)).toEqual([]);
    for (const [set, list, table, unknown] of [
      ['admin', cmds.admin, QEMU_ADMIN, cmds.naming.qemu_unknown_admin],
      ['io', cmds.io, QEMU_IO, cmds.naming.qemu_unknown_io],
    ] as const) {
      const spec = Object.fromEntries(list.filter((c) => c.qemu_opname).map((c) => [c.qemu_opname, c.opcode]));
      expect(spec, `${set} opnames`).toEqual(table);
      expect(Object.keys(spec)).not.toContain(unknown);
    }
  });

  it('ftrace names are unique and match the Linux 6.1 nvme_setup_cmd symbol tables exactly', () => {
    const all = [...cmds.admin, ...cmds.io].map((c) => c.ftrace_name).filter((n): n is string => n !== null);
    expect(dupes(all)).toEqual([]);
    const admin = Object.fromEntries(cmds.admin.filter((c) => c.ftrace_name).map((c) => [c.ftrace_name, c.opcode]));
    const io = Object.fromEntries(cmds.io.filter((c) => c.ftrace_name).map((c) => [c.ftrace_name, c.opcode]));
    expect(admin).toEqual(LINUX_ADMIN);
    expect(io).toEqual(LINUX_IO);
  });

  it('data direction agrees with opcode bits 1:0 and with the data pointer', () => {
    for (const c of [...cmds.admin, ...cmds.io]) {
      const encoded = DIRECTION[c.opcode & 3];
      expect([encoded, 'none'], `${c.name} (${hex(c.opcode)}) data=${c.data}`).toContain(c.data);
      expect(c.data_pointer, `${c.name}: data_pointer must be true exactly when data moves`).toBe(c.data !== 'none');
    }
  });

  it('command fields fit their dwords and do not overlap; only dwords 2-3 and 10-15 are command specific', () => {
    for (const c of [...cmds.admin, ...cmds.io]) {
      checkCmdFields(c.name, c.fields, 15);
      for (const f of c.fields) {
        for (const d of f.dwords ?? [f.dword!]) expect([2, 3, 10, 11, 12, 13, 14, 15], `${c.name}.${f.name} in dword ${d}`).toContain(d);
      }
      for (const a of c.address_fields) {
        expect([[6, 7], [8, 9]], `${c.name}.${a.name}: address fields live in PRP1 or PRP2`).toContainEqual(a.dwords);
        expect(a.bits).toEqual([63, 0]);
      }
    }
    checkCmdFields('sqe', cmds.sqe.fields, cmds.sqe.size_bytes / 4 - 1);
    checkCmdFields('cqe', cmds.cqe.fields, cmds.cqe.size_bytes / 4 - 1);
  });

  it('LBA commands carry SLBA in dwords 10-11 and a 0-based NLB in dword 12 bits 15:0', () => {
    for (const name of ['READ', 'WRITE', 'COMPARE', 'WRITE_ZEROES', 'VERIFY', 'WRITE_UNCORRECTABLE']) {
      const c = cmds.io.find((x) => x.name === name)!;
      const slba = c.fields.find((f) => f.name === 'SLBA');
      const nlb = c.fields.find((f) => f.name === 'NLB');
      expect(slba, `${name}.SLBA`).toMatchObject({ dwords: [10, 11], bits: [63, 0] });
      expect(nlb, `${name}.NLB`).toMatchObject({ dword: 12, bits: [15, 0], zeroes_based: true });
    }
  });

  it('names the device-visible addresses of queue creation and Doorbell Buffer Config', () => {
    const addr = (name: string): string[] => cmds.admin.find((c) => c.name === name)!.address_fields.map((a) => `${a.name}:${a.alignment}`);
    expect(addr('CREATE_SQ')).toEqual(['PRP1:page']);
    expect(addr('CREATE_CQ')).toEqual(['PRP1:page']);
    expect(addr('DOORBELL_BUFFER_CONFIG')).toEqual(['PRP1:page', 'PRP2:page']);
  });

  it('feature, log page and CNS identifiers are unique; QEMU 7.2 supports log pages 01h-05h only', () => {
    expect(dupes(cmds.features.map((f) => f.fid))).toEqual([]);
    expect(dupes(cmds.features.map((f) => f.name))).toEqual([]);
    expect(dupes(cmds.log_pages.map((l) => l.lid))).toEqual([]);
    expect(dupes(cmds.log_pages.map((l) => l.name))).toEqual([]);
    expect(dupes(cmds.identify_cns.map((c) => c.cns))).toEqual([]);
    expect(dupes(cmds.identify_cns.map((c) => c.name))).toEqual([]);
    expect(cmds.log_pages.filter((l) => l.qemu_supported).map((l) => l.lid)).toEqual([1, 2, 3, 4, 5]);
    const byFid = new Map(cmds.features.map((f) => [f.fid, f.name]));
    for (const [fid, name] of [[0x01, 'ARBITRATION'], [0x07, 'NUMBER_OF_QUEUES'], [0x0b, 'ASYNC_EVENT_CONFIGURATION'], [0x0e, 'TIMESTAMP'], [0x16, 'HOST_BEHAVIOR_SUPPORT'], [0x80, 'SOFTWARE_PROGRESS_MARKER']] as const) {
      expect(byFid.get(fid), `FID ${hex(fid)}`).toBe(name);
    }
    for (const f of cmds.features) {
      checkCmdFields(`feature ${f.name}`, f.fields ?? [], 15);
      checkCmdFields(`feature ${f.name} result`, f.result_fields ?? [], 0);
    }
  });

  it('every opcode/opname pair QEMU printed in the example traces agrees with the spec', () => {
    const files = ['linux-boot-smp1.log', 'linux-boot-smp2.log', 'linux-mixed-io.log', path.join('ftrace', 'qemu-same-run.log')];
    const re = /pci_nvme_(admin|io)_cmd .*opc 0x([0-9a-f]+) opname '([A-Z_]+)'/;
    const seen = new Set<string>();
    for (const f of files) {
      for (const line of readLines(path.join(EXAMPLES, f))) {
        const m = re.exec(line);
        if (!m) continue;
        const key = `${m[1]} ${m[2]} ${m[3]}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const list = m[1] === 'admin' ? cmds.admin : cmds.io;
        const opcode = parseInt(m[2]!, 16);
        const cmd = list.find((c) => c.opcode === opcode);
        const unknown = m[1] === 'admin' ? cmds.naming.qemu_unknown_admin : cmds.naming.qemu_unknown_io;
        if (m[3] === unknown) expect(cmd?.qemu_opname ?? null, `${key}: spec names an opcode QEMU calls unknown`).toBeNull();
        else expect(cmd?.qemu_opname, key).toBe(m[3]);
      }
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it('every command name the guest kernel traced (ftrace) is in the spec, in the right set', () => {
    const file = path.join(EXAMPLES, 'ftrace', 'linux-ftrace.txt');
    if (!fs.existsSync(file)) return;
    const re = /nvme_setup_cmd: .*qid=(\d+),.*cmd=\((nvme_\w+|0x[0-9a-f]+)/;
    let n = 0;
    for (const line of readLines(file)) {
      const m = re.exec(line);
      if (!m || m[2]!.startsWith('nvme_fabrics_') || m[2]!.startsWith('0x')) continue;
      const list = m[1] === '0' ? cmds.admin : cmds.io;
      expect(list.some((c) => c.ftrace_name === m[2]), `${m[2]} on qid ${m[1]}`).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- status codes

/** QEMU 7.2 include/block/nvme.h enum NvmeStatusCodes (SCT << 8 | SC), less the flag bits. */
const QEMU_STATUS: Record<string, number> = {
  NVME_SUCCESS: 0x0000, NVME_INVALID_OPCODE: 0x0001, NVME_INVALID_FIELD: 0x0002, NVME_CID_CONFLICT: 0x0003,
  NVME_DATA_TRAS_ERROR: 0x0004, NVME_POWER_LOSS_ABORT: 0x0005, NVME_INTERNAL_DEV_ERROR: 0x0006, NVME_CMD_ABORT_REQ: 0x0007,
  NVME_CMD_ABORT_SQ_DEL: 0x0008, NVME_CMD_ABORT_FAILED_FUSE: 0x0009, NVME_CMD_ABORT_MISSING_FUSE: 0x000a,
  NVME_INVALID_NSID: 0x000b, NVME_CMD_SEQ_ERROR: 0x000c, NVME_INVALID_SGL_SEG_DESCR: 0x000d,
  NVME_INVALID_NUM_SGL_DESCRS: 0x000e, NVME_DATA_SGL_LEN_INVALID: 0x000f, NVME_MD_SGL_LEN_INVALID: 0x0010,
  NVME_SGL_DESCR_TYPE_INVALID: 0x0011, NVME_INVALID_USE_OF_CMB: 0x0012, NVME_INVALID_PRP_OFFSET: 0x0013,
  NVME_CMD_SET_CMB_REJECTED: 0x002b, NVME_INVALID_CMD_SET: 0x002c, NVME_LBA_RANGE: 0x0080, NVME_CAP_EXCEEDED: 0x0081,
  NVME_NS_NOT_READY: 0x0082, NVME_NS_RESV_CONFLICT: 0x0083, NVME_FORMAT_IN_PROGRESS: 0x0084, NVME_INVALID_CQID: 0x0100,
  NVME_INVALID_QID: 0x0101, NVME_MAX_QSIZE_EXCEEDED: 0x0102, NVME_ACL_EXCEEDED: 0x0103, NVME_AER_LIMIT_EXCEEDED: 0x0105,
  NVME_INVALID_FW_SLOT: 0x0106, NVME_INVALID_FW_IMAGE: 0x0107, NVME_INVALID_IRQ_VECTOR: 0x0108, NVME_INVALID_LOG_ID: 0x0109,
  NVME_INVALID_FORMAT: 0x010a, NVME_FW_REQ_RESET: 0x010b, NVME_INVALID_QUEUE_DEL: 0x010c, NVME_FID_NOT_SAVEABLE: 0x010d,
  NVME_FEAT_NOT_CHANGEABLE: 0x010e, NVME_FEAT_NOT_NS_SPEC: 0x010f, NVME_FW_REQ_SUSYSTEM_RESET: 0x0110,
  NVME_NS_ALREADY_ATTACHED: 0x0118, NVME_NS_PRIVATE: 0x0119, NVME_NS_NOT_ATTACHED: 0x011a, NVME_NS_CTRL_LIST_INVALID: 0x011c,
  NVME_INVALID_CTRL_ID: 0x011f, NVME_INVALID_SEC_CTRL_STATE: 0x0120, NVME_INVALID_NUM_RESOURCES: 0x0121,
  NVME_INVALID_RESOURCE_ID: 0x0122, NVME_CONFLICTING_ATTRS: 0x0180, NVME_INVALID_PROT_INFO: 0x0181, NVME_WRITE_TO_RO: 0x0182,
  NVME_CMD_SIZE_LIMIT: 0x0183, NVME_INVALID_ZONE_OP: 0x01b6, NVME_NOZRWA: 0x01b7, NVME_ZONE_BOUNDARY_ERROR: 0x01b8,
  NVME_ZONE_FULL: 0x01b9, NVME_ZONE_READ_ONLY: 0x01ba, NVME_ZONE_OFFLINE: 0x01bb, NVME_ZONE_INVALID_WRITE: 0x01bc,
  NVME_ZONE_TOO_MANY_ACTIVE: 0x01bd, NVME_ZONE_TOO_MANY_OPEN: 0x01be, NVME_ZONE_INVAL_TRANSITION: 0x01bf,
  NVME_WRITE_FAULT: 0x0280, NVME_UNRECOVERED_READ: 0x0281, NVME_E2E_GUARD_ERROR: 0x0282, NVME_E2E_APP_ERROR: 0x0283,
  NVME_E2E_REF_ERROR: 0x0284, NVME_CMP_FAILURE: 0x0285, NVME_ACCESS_DENIED: 0x0286, NVME_DULB: 0x0287,
  NVME_E2E_STORAGE_TAG_ERROR: 0x0288,
};

describe('specs/nvme/status-codes.yaml', () => {
  const bySctSc = new Map(stat.codes.map((c) => [(c.sct << 8) | c.sc, c]));
  const sub = (name: string): Bits => stat.status_field.find((f) => f.name === name)!.bits;
  const decodeStatus = (status: number): { dnr: number; more: number; crd: number; code?: StatusCode } => {
    const v = BigInt(status);
    const sct = Number(get(v, sub('SCT')));
    const sc = Number(get(v, sub('SC')));
    return { dnr: Number(get(v, sub('DNR'))), more: Number(get(v, sub('M'))), crd: Number(get(v, sub('CRD'))), code: bySctSc.get((sct << 8) | sc) };
  };

  it('(sct, sc) pairs, names and QEMU names are unique; every SCT is a declared type', () => {
    expect(dupes(stat.codes.map((c) => `${c.sct}/${hex(c.sc)}`))).toEqual([]);
    expect(dupes(stat.codes.map((c) => c.name))).toEqual([]);
    expect(dupes(stat.codes.map((c) => c.qemu_name).filter(Boolean))).toEqual([]);
    const types = new Set(stat.types.map((t) => t.sct));
    for (const c of stat.codes) expect(types.has(c.sct), `${c.name}: SCT ${c.sct} undeclared`).toBe(true);
    expect(dupes(stat.types.map((t) => t.sct))).toEqual([]);
  });

  it('the status field sub-fields fit 15 bits and do not overlap', () => {
    for (const f of stat.status_field) {
      expect(f.bits[0]).toBeGreaterThanOrEqual(f.bits[1]);
      expect(f.bits[0]).toBeLessThan(15);
    }
    expect(overlaps(stat.status_field.map((f) => ({ name: f.name, lo: f.bits[1], hi: f.bits[0] })))).toEqual([]);
    expect(sub('DNR')).toEqual([14, 14]);
    expect(sub('SCT')).toEqual([10, 8]);
  });

  it('every qemu_name carries the value QEMU 7.2 gives it, and every QEMU code is covered', () => {
    const aliases = new Set((stat.qemu_aliases ?? []).map((a) => a.qemu_name));
    for (const c of stat.codes) {
      if (!c.qemu_name) continue;
      expect(QEMU_STATUS[c.qemu_name], `${c.qemu_name} is not a QEMU 7.2 status`).toBeDefined();
      expect(hex((c.sct << 8) | c.sc), `${c.name} vs ${c.qemu_name}`).toBe(hex(QEMU_STATUS[c.qemu_name]!));
    }
    const named = new Set(stat.codes.map((c) => c.qemu_name));
    for (const q of Object.keys(QEMU_STATUS)) expect(named.has(q) || aliases.has(q), `${q} not mapped`).toBe(true);
    for (const a of stat.qemu_aliases ?? []) {
      expect(QEMU_STATUS[a.qemu_name], a.qemu_name).toBe(a.status);
      expect(bySctSc.has((a.sct << 8) | a.sc), `${a.qemu_name}: target code missing`).toBe(true);
    }
  });

  it('decodes the statuses in the traces (0x4001, 0x4002, 0x4080, 0x400b, 0x105, 0x6)', () => {
    expect(decodeStatus(0x4001)).toMatchObject({ dnr: 1, code: { name: 'INVALID_COMMAND_OPCODE' } });
    expect(decodeStatus(0x4002)).toMatchObject({ dnr: 1, code: { name: 'INVALID_FIELD_IN_COMMAND' } });
    expect(decodeStatus(0x4080)).toMatchObject({ dnr: 1, code: { name: 'LBA_OUT_OF_RANGE' } });
    expect(decodeStatus(0x400b)).toMatchObject({ dnr: 1, code: { name: 'INVALID_NAMESPACE_OR_FORMAT' } });
    expect(decodeStatus(0x105)).toMatchObject({ dnr: 0, code: { name: 'ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED' } });
    expect(decodeStatus(0x6)).toMatchObject({ dnr: 0, code: { name: 'INTERNAL_ERROR' } });
    expect(decodeStatus(0x2)).toMatchObject({ dnr: 0, code: { name: 'INVALID_FIELD_IN_COMMAND' } });
  });

  it('has the codes a checker needs at their spec values', () => {
    const want: [number, number, string][] = [
      [0, 0x20, 'NAMESPACE_IS_WRITE_PROTECTED'], [0, 0x80, 'LBA_OUT_OF_RANGE'], [0, 0x81, 'CAPACITY_EXCEEDED'],
      [0, 0x82, 'NAMESPACE_NOT_READY'], [0, 0x83, 'RESERVATION_CONFLICT'], [0, 0x84, 'FORMAT_IN_PROGRESS'],
      [1, 0x00, 'COMPLETION_QUEUE_INVALID'], [1, 0x01, 'INVALID_QUEUE_IDENTIFIER'], [1, 0x02, 'INVALID_QUEUE_SIZE'],
      [1, 0x03, 'ABORT_COMMAND_LIMIT_EXCEEDED'], [1, 0x05, 'ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED'],
      [1, 0x08, 'INVALID_INTERRUPT_VECTOR'], [1, 0x09, 'INVALID_LOG_PAGE'], [1, 0x0a, 'INVALID_FORMAT'],
      [1, 0x0c, 'INVALID_QUEUE_DELETION'], [1, 0x80, 'CONFLICTING_ATTRIBUTES'], [1, 0x81, 'INVALID_PROTECTION_INFORMATION'],
      [1, 0x82, 'ATTEMPTED_WRITE_TO_READ_ONLY_RANGE'], [2, 0x80, 'WRITE_FAULT'], [2, 0x81, 'UNRECOVERED_READ_ERROR'],
      [2, 0x85, 'COMPARE_FAILURE'], [2, 0x86, 'ACCESS_DENIED'], [2, 0x87, 'DEALLOCATED_OR_UNWRITTEN_LOGICAL_BLOCK'],
    ];
    for (const [sct, sc, name] of want) expect(bySctSc.get((sct << 8) | sc)?.name, `${sct}/${hex(sc)}`).toBe(name);
  });

  it('command-specific codes name commands that exist in commands.yaml', () => {
    const names = new Set([...cmds.admin, ...cmds.io].map((c) => c.name));
    for (const c of stat.codes) {
      for (const n of c.commands ?? []) expect(names.has(n), `${c.name} lists unknown command ${n}`).toBe(true);
      if (c.commands) expect(c.sct, `${c.name}: only command-specific codes list commands`).toBe(1);
    }
  });

  it('every non-zero status printed in the example traces decodes to a known code', () => {
    const files = ['linux-boot-smp1.log', 'linux-boot-smp2.log', 'linux-mixed-io.log', path.join('ftrace', 'qemu-same-run.log')];
    const re = /status 0x([0-9a-f]+)/;
    for (const f of files) {
      for (const line of readLines(path.join(EXAMPLES, f))) {
        const m = re.exec(line);
        if (!m) continue;
        const status = parseInt(m[1]!, 16);
        expect(decodeStatus(status).code, `${f}: status ${hex(status)}`).toBeDefined();
      }
    }
  });
});
