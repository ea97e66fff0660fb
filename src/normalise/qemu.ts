import type { TraceRecord } from '../parse/record.js';
import type { LineBatch } from '../read/lines.js';
import { KeptLines, type TypedBatch } from '../read/qemu-batches.js';
import { loadEventDefs } from '../parse/event-spec.js';
import type { QemuParser } from '../parse/qemu.js';
import type { Ev } from './event.js';
import { loadNormalisation, recordNormaliser, typedDeviceError, typedNormaliser, type RecordNormaliser, type TypedNormaliser } from './compile.js';

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

/**
 * QEMU pci_nvme_* events -> normalised events, as specs/trace/qemu-normalise.yaml says (compiled by
 * normalise/compile.ts). Events it does not list (redundant echoes such as mmio_cfg, callbacks) map to nothing;
 * the device's own problem reports (class err/ub) become `device.error {event, ...fields}`.
 */
let byName: Map<string, RecordNormaliser> | undefined;

function recordNormalisers(): Map<string, RecordNormaliser> {
  if (!byName) {
    byName = new Map();
    for (const [name, alts] of loadNormalisation(loadEventDefs('qemu'))) byName.set(name, recordNormaliser(alts));
  }
  return byName;
}

export function normaliseQemu(r: TraceRecord): Ev | undefined {
  if (r.cls !== 'info') return { kind: 'device.error', line: r.line, raw: r.raw, f: { event: r.name, ...r.fields } };
  const n = recordNormalisers().get(r.name);
  return n === undefined ? undefined : n(r.fields, r.line, r.raw);
}

/** Typed-line normalisers by the typer's event index (QemuParser.eventTable()), each made on first use. */
const typedByParser = new WeakMap<QemuParser, TypedNormaliser[]>();

/**
 * A normaliser per event index, each a stand-in that makes the real one at its first call and puts it in its
 * place. The loop that calls them then has no path of its own for a first use: an event kind first seen after
 * V8 optimised the loop (with the model inlined into it, ~35 ms of compiler time) would otherwise throw that
 * code away and have it compiled again.
 */
function typedNormalisers(parser: QemuParser): TypedNormaliser[] {
  let table = typedByParser.get(parser);
  if (table === undefined) {
    const made: TypedNormaliser[] = parser.eventTable().map((_, k): TypedNormaliser => (v, at, strs, line, texts, i) => (made[k] = typedNormaliserAt(parser, k))(v, at, strs, line, texts, i));
    typedByParser.set(parser, (table = made));
  }
  return table;
}

/** An event that means nothing to the model. */
const NOTHING: TypedNormaliser = () => undefined;

function typedNormaliserAt(parser: QemuParser, k: number): TypedNormaliser {
  const def = parser.eventTable()[k]!;
  if (def.cls !== 'info') return typedDeviceError(def);
  const alts = loadNormalisation(loadEventDefs('qemu')).get(def.name);
  return alts ? typedNormaliser(alts, def) : NOTHING;
}

/** The normalised events of a batch of QEMU lines as text, in order, through the string parser. */
export function qemuEventsOf(b: LineBatch, parser: QemuParser, onEvent: (e: Ev) => void, onLine: () => void): void {
  const ls = b.lines;
  const nos = b.lineNos;
  for (let i = 0; i < ls.length; i++) parsedEvent(parser, ls[i]!, nos === undefined ? b.firstLine + i : nos[i]!, onEvent, onLine);
}

function parsedEvent(parser: QemuParser, text: string, no: number, onEvent: (e: Ev) => void, onLine: () => void): void {
  const r = parser.parse(text, no);
  if (r === undefined) return;
  onLine();
  const e = normaliseQemu(r);
  if (e !== undefined) onEvent(e);
}

/**
 * The normalised events of a typed batch (read/qemu-batches.ts), in order. Lines the WebAssembly typer typed
 * become events straight from their values (no record in between), their text left in the batch until
 * something asks for it; the others go through the string parser and normaliseQemu. onLine is told of every
 * event line, whether or not it means anything to the model. An event's text is not to be read once this
 * returns (TypedEv).
 */
export function typedEventsOf(t: TypedBatch, parser: QemuParser, onEvent: (e: Ev) => void, onLine: () => void): void {
  const norms = typedNormalisers(parser);
  const widths = parser.widths();
  const { events, vals, strs, lineNos } = t;
  const texts = new KeptLines(t);
  try {
    let at = 0;
    for (let i = 0; i < lineNos.length; i++) {
      const k = events[i]!;
      if (k < 0) {
        parsedEvent(parser, texts.line(i), lineNos[i]!, onEvent, onLine);
        continue;
      }
      onLine();
      const e = norms[k]!(vals, at, strs, lineNos[i]!, texts, i);
      if (e !== undefined) onEvent(e);
      at += widths[k]!;
    }
  } finally {
    texts.retire();
  }
}
