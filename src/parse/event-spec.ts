import { loadSpecFile, yamlLib } from '../specs/load.js';
import { specPath } from '../util/paths.js';
import { compileTemplate, compilePieces, TemplateError, type CompiledTemplate, type Piece } from './template.js';
import { cached, cacheKey } from '../util/cache.js';
import { UserError } from '../util/errors.js';
import type { Node } from 'yaml';

export interface EventDef {
  name: string;
  cls: 'info' | 'err' | 'ub';
  dead: boolean;
  tpl: CompiledTemplate;
}

interface TraceEventsSpec {
  kind: 'trace-events';
  format: 'qemu' | 'ftrace';
  events: Record<string, { template: string; class?: 'info' | 'err' | 'ub'; dead?: boolean }>;
}

const cache = new Map<string, Map<string, EventDef>>();

/** Loads and compiles the event templates of one format (once per process). */
export function loadEventDefs(format: 'qemu' | 'ftrace', file = specPath('trace', `${format}-events.yaml`)): Map<string, EventDef> {
  const hit = cache.get(file);
  if (hit) return hit;
  const spec = loadSpecFile<TraceEventsSpec>(file, 'trace-events');
  const defs = new Map<string, EventDef>();
  const problems = [];
  // Parsing 200 templates with Ohm costs ~0.1 s; their pieces are plain data, cached by content.
  const pieces = cached<Record<string, Piece[] | null>>(cacheKey('templates-v1', JSON.stringify(spec.data.events)), () => {
    const out: Record<string, Piece[] | null> = {};
    for (const [name, ev] of Object.entries(spec.data.events)) {
      try {
        out[name] = compileTemplate(ev.template).pieces;
      } catch {
        out[name] = null;
      }
    }
    return out;
  });
  for (const [name, ev] of Object.entries(spec.data.events)) {
    try {
      const p = pieces[name];
      defs.set(name, { name, cls: ev.class ?? 'info', dead: ev.dead ?? false, tpl: p ? compilePieces(p) : compileTemplate(ev.template) });
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      // Point at the template scalar in the YAML.
      let node: Node | undefined;
      const events = spec.doc.get('events', true);
      if (yamlLib().isMap(events)) {
        const evNode = events.get(name, true);
        if (yamlLib().isMap(evNode)) node = evNode.get('template', true) as Node | undefined;
      }
      const off = (node && yamlLib().isScalar(node) && node.range ? node.range[0] + 1 : 0) + err.offset;
      const p = spec.lineCounter.linePos(off);
      problems.push({ file, line: p.line, col: p.col, message: `${name}: ${err.message}` });
    }
  }
  if (problems.length) throw new UserError(`${file}: invalid event templates`, problems);
  cache.set(file, defs);
  return defs;
}
