/** What every stage downstream of the rules consumes: findings, rule metadata, per-file results. */

export type Severity = 'error' | 'warning' | 'info';
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

export interface SourceRef {
  file: string;
  line: number; // 1-based
  raw?: string;
  note?: string; // why this line is related: "queue created here", "CC.EN set here"
}

export interface Finding {
  rule: string;
  severity: Severity;
  message: string;
  file: string;
  line: number;
  col?: number;
  raw?: string;
  /** Earlier lines that establish the state this finding contradicts. */
  related: SourceRef[];
  /** Stable identity for baselines: what the finding is about (queue id, CID, register, proof-line field). */
  binding?: string;
  /** NVMe Base 2.0 section or seed section the rule comes from. */
  section?: string;
  /** Where the finding came from: our model, or the device's own error event (QEMU pci_nvme_err_*). */
  source?: 'model' | 'device';
}

/** Rule metadata as declared in specs/rules/*.yaml (the parts reports need). */
export interface RuleMeta {
  id: string;
  severity: Severity;
  family: string;
  title: string;
  message: string;
  section: string;
  explanation: string;
  fix?: string;
  /** Trace formats the rule can be checked on. */
  formats?: string[];
}

export interface Coverage {
  registers: Record<string, number>; // register name -> accesses
  commands: Record<string, number>; // "admin:IDENTIFY" -> count
  events: Record<string, number>; // normalised kind -> count
}

export interface FileResult {
  file: string;
  format: string;
  lines: number;
  events: number;
  malformed: number;
  unknownEvents: Record<string, number>;
  findings: Finding[];
  /** Rule ids whose preconditions occurred in this trace (checked, whether or not they fired). */
  exercised: string[];
  /** Rule ids that could not be checked on this trace, with the reason ("the trace carries no authors"). */
  notChecked: { rule: string; reason: string }[];
  coverage: Coverage;
  notes: string[];
  /** Serial logs: one verdict table per proof line (which fields are right, missing, or claim more than the evidence). */
  proofTables?: ProofTable[];
}

/** The verdict on one proof line of a serial log, field by field. */
export interface ProofTable {
  /** Which proof line: "cloud-shape", "dma-backend", ... */
  kind: string;
  line: number; // 1-based line of the proof line in the file
  rows: ProofRow[];
}

export interface ProofRow {
  field: string;
  value?: string; // as written in the trace (absent when the field is missing)
  verdict: string; // "ok" | "missing" | "wrong" | "overclaim" | "documentation" ...
  reason: string;
  source?: string; // where the expectation comes from (spec file, seed section)
}

export interface CheckResult {
  tool: { name: 'nvmeproof'; version: string };
  files: FileResult[];
  rules: RuleMeta[];
  summary: { files: number; errors: number; warnings: number; infos: number; lines: number };
  /** Set when a baseline filtered the findings: how many it accepted, and how many of its entries no longer occur. */
  baseline?: { file?: string; accepted: number; stale: number };
}
