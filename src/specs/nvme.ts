import { loadSpecFile } from './load.js';
import { specPath } from '../util/paths.js';

/** The NVMe wire-subset specs (specs/nvme/*.yaml) in the lookup shapes the model needs. */

export interface RegisterField {
  name: string;
  bits: [number, number];
  access?: string;
  description?: string;
}
export interface RegisterDef {
  name: string;
  offset: number;
  width: number;
  access?: string;
  section?: string;
  fields?: RegisterField[];
}
export interface CommandDef {
  opcode: number;
  name: string;
  section?: string;
  data?: string;
  data_pointer?: boolean;
  nsid?: string;
  qemu_opname?: string;
  ftrace_name?: string;
}
export interface StatusDef {
  sct: number;
  sc: number;
  name: string;
  title?: string;
}

export interface NvmeSpec {
  registers: RegisterDef[];
  /** 32-bit-aligned offset -> register and which half (64-bit registers are written as two dwords). */
  regAt(offset: number): { reg: RegisterDef; high: boolean } | undefined;
  admin: Map<number, CommandDef>;
  io: Map<number, CommandDef>;
  ftraceNames: Map<string, { admin: boolean; def: CommandDef }>;
  logPages: Map<number, { lid: number; name: string; qemu_supported?: boolean }>;
  features: Map<number, { fid: number; name: string }>;
  identifyCns: Map<number, { cns: number; name: string }>;
  status(code: number): StatusDef | undefined;
}

let cached: NvmeSpec | undefined;

export function loadNvmeSpec(): NvmeSpec {
  if (cached) return cached;
  const regs = loadSpecFile<{ registers: RegisterDef[] }>(specPath('nvme', 'registers.yaml'), 'nvme-registers').data.registers;
  const cmds = loadSpecFile<{
    admin: CommandDef[];
    io: CommandDef[];
    log_pages?: { lid: number; name: string; qemu_supported?: boolean }[];
    features?: { fid: number; name: string }[];
    identify_cns?: { cns: number; name: string }[];
  }>(specPath('nvme', 'commands.yaml'), 'nvme-commands').data;
  const st = loadSpecFile<{ codes: StatusDef[] }>(specPath('nvme', 'status-codes.yaml'), 'nvme-status-codes').data;

  const byDword = new Map<number, { reg: RegisterDef; high: boolean }>();
  for (const r of regs) {
    byDword.set(r.offset, { reg: r, high: false });
    if (r.width === 64) byDword.set(r.offset + 4, { reg: r, high: true });
  }
  const ftraceNames = new Map<string, { admin: boolean; def: CommandDef }>();
  for (const d of cmds.admin) if (d.ftrace_name) ftraceNames.set(d.ftrace_name, { admin: true, def: d });
  for (const d of cmds.io) if (d.ftrace_name) ftraceNames.set(d.ftrace_name, { admin: false, def: d });
  const statuses = new Map<number, StatusDef>();
  for (const s of st.codes) statuses.set((s.sct << 8) | s.sc, s);
  cached = {
    registers: regs,
    regAt: (o) => byDword.get(o),
    admin: new Map(cmds.admin.map((d) => [d.opcode, d])),
    io: new Map(cmds.io.map((d) => [d.opcode, d])),
    ftraceNames,
    logPages: new Map((cmds.log_pages ?? []).map((l) => [l.lid, l])),
    features: new Map((cmds.features ?? []).map((f) => [f.fid, f])),
    identifyCns: new Map((cmds.identify_cns ?? []).map((c) => [c.cns, c])),
    status: (code) => statuses.get(code & 0x7ff),
  };
  return cached;
}
