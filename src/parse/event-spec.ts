import { loadSpecFile } from '../specs/load.js';
import { specPath } from '../util/paths.js';
import { compileTemplate, TemplateError, type CompiledTemplate } from './template.js';
import { UserError } from '../util/errors.js';
import { isMap, isScalar, type Node } from 'yaml';

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
  for (const [name, ev] of Object.entries(spec.data.events)) {
    try {
      defs.set(name, { name, cls: ev.class ?? 'info', dead: ev.dead ?? false, tpl: compileTemplate(ev.template) });
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      // Point at the template scalar in the YAML.
      let node: Node | undefined;
      const events = spec.doc.get('events', true);
      if (isMap(events)) {
        const evNode = events.get(name, true);
        if (isMap(evNode)) node = evNode.get('template', true) as Node | undefined;
      }
      const off = (node && isScalar(node) && node.range ? node.range[0] + 1 : 0) + err.offset;
      const p = spec.lineCounter.linePos(off);
      problems.push({ file, line: p.line, col: p.col, message: `${name}: ${err.message}` });
    }
  }
  if (problems.length) throw new UserError(`${file}: invalid event templates`, problems);
  cache.set(file, defs);
  return defs;
}
