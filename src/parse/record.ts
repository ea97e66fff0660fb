import type { Fields } from './template.js';

export type TraceFormat = 'qemu' | 'ftrace' | 'canonical' | 'serial' | 'evidence';

/** One parsed trace line, typed by its format's templates; the normaliser turns it into model events. */
export interface TraceRecord {
  name: string; // event name as the producer prints it: pci_nvme_io_cmd, nvme_setup_cmd, ...
  fields: Fields;
  line: number;
  raw: string;
  cls: 'info' | 'err' | 'ub';
}

export interface ParseDiagnostic {
  line: number;
  col: number;
  message: string;
  raw: string;
}

/** Line-at-a-time parser of one format. Lines it does not recognise at all are counted, not errors. */
export interface LineParser {
  readonly format: TraceFormat;
  parse(text: string, line: number): TraceRecord | undefined;
  diagnostics: ParseDiagnostic[];
  unknownEvents: Map<string, number>;
  /** Lines that are not events of this format (boot noise, comments, other QEMU subsystems). */
  otherLines: number;
  /** Well-formed events the consumer said it does not need (validated, not materialised). */
  skipped: number;
}
