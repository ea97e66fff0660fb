import type { Finding, SourceRef } from '../findings/finding.js';
import type { Ev } from '../normalise/event.js';
import type { Catalog, CompiledRule } from './catalog.js';
import { BUILTINS, ExprCodeGen, type Scope, type Value } from './expr.js';

/**
 * Runs the catalog's generic check kinds at the moments (hooks) the model announces. The model knows
 * NVMe; this file knows only how to evaluate rules and word findings.
 */

/** What a command carries for de-duplication: one cause, one finding, however many lines report it. */
export interface Flaggable {
  flagged?: Map<string, Finding>;
}

/** Related lines and binding are only needed when a rule fails, so the model may pass them lazily. */
export interface HookContext {
  ev: Ev;
  related?: SourceRef[] | (() => SourceRef[]);
  binding?: string | (() => string);
  subject?: Flaggable;
}

function resolve<T>(v: T | (() => T) | undefined): T | undefined {
  return typeof v === 'function' ? (v as () => T)() : v;
}

function fmt(v: Value, style?: string): string {
  if (v === undefined || v === null) return '?';
  if (style === 'hex' || ((typeof v === 'number' || typeof v === 'bigint') && style !== 'dec' && v > 0xffff)) {
    return typeof v === 'number' || typeof v === 'bigint' ? '0x' + v.toString(16) : String(v);
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function renderMessage(template: string, scope: Scope): string {
  return template.replace(/\{([a-zA-Z_][\w.]*)(?::(hex|dec))?\}/g, (_m, path: string, style?: string) => {
    let v: Value = scope;
    for (const k of path.split('.')) v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Scope)[k] : undefined;
    return fmt(v, style);
  });
}

/** The generic check kinds, by the index the hook lists carry (a string switch per rule per event adds up). */
const CHECKS = ['assert', 'aligned', 'at-most', 'at-least'];

/** How far (in lines) after a finding a device event of the same rule is taken as its echo. */
const DEVICE_ECHO_WINDOW = 64;

/**
 * Every rule at one hook as one generated function: for each rule in order, its `when`, then its check,
 * inline, so V8 sees one scope shape at every property read and inlines the helpers (one call per rule per
 * event through a list of closures was ~15% of a check). It marks the rules whose `when` held in `hit` and
 * writes the indexes of the rules that failed to `failed`, returning how many.
 */
type HookFn = (s: Scope, hit: Uint8Array, failed: Int32Array) => number;

function compileHook(rules: CompiledRule[]): HookFn {
  const g = new ExprCodeGen();
  const code = (x: CompiledRule['asts']['exprs'][string] | undefined): string => (x === undefined ? 'undefined' : typeof x === 'number' ? String(x) : g.gen(x));
  const parts = rules.map((r, i) => {
    const x = r.asts.exprs;
    let pass: string;
    switch (CHECKS.indexOf(r.spec.then.check)) {
      case 0:
        pass = g.truthy(code(x.that));
        break;
      case 1:
        pass = g.truthy(`${g.constant(BUILTINS.aligned!)}(${code(x.value)}, ${code(x.to)})`);
        break;
      case 2:
      case 3: {
        const v = g.temp();
        const l = g.temp();
        const cmp = r.spec.then.check === 'at-most' ? '>' : '<';
        pass = `((${v} = ${code(x.value)}), (${l} = ${code(x.limit)}), ${v} == null || ${l} == null || !(Number(${v}) ${cmp} Number(${l})))`;
        break;
      }
      default:
        pass = 'true';
    }
    const when = r.asts.when === undefined ? 'true' : g.truthy(g.gen(r.asts.when));
    return `if (${when}) { hit[${i}] = 1; if (!${pass}) failed[n++] = ${i}; }`;
  });
  return g.build('s, hit, failed', `let n = 0; ${parts.join('\n')} return n;`) as HookFn;
}

/** Hook functions by the catalog's rule list and the rules left out (engines are made per file; code once). */
const HOOK_FNS = new WeakMap<CompiledRule[], Map<string, HookFn>>();

function compiledHook(all: CompiledRule[], rules: CompiledRule[]): HookFn {
  let byKey = HOOK_FNS.get(all);
  if (!byKey) HOOK_FNS.set(all, (byKey = new Map()));
  const key = rules.map((r) => r.meta.id).join('\n');
  let fn = byKey.get(key);
  if (!fn) byKey.set(key, (fn = compileHook(rules)));
  return fn;
}

/**
 * The rules of one hook, for a caller that runs them itself on its hot path (the controller model): it holds
 * the Hook from hook(), calls `run(scope, hit, failed)` at one call site of its own (so V8 sees one target
 * there and may inline it), and only when that returns n > 0 builds the context for report(). fire() does
 * the same in one call.
 */
export interface Hook {
  rules: CompiledRule[];
  run: HookFn;
  hit: Uint8Array;
  failed: Int32Array;
}

export class RuleEngine {
  readonly findings: Finding[] = [];
  private readonly lastByRule = new Map<string, Finding>();
  /** Rules whose preconditions held at least once. A flag per hooked rule: this runs for every event. */
  private readonly exercisedSet = new Set<string>();
  private readonly hooked = new Map<string, Hook>();
  private readonly seen = new Set<string>();

  constructor(
    private readonly cat: Catalog,
    private readonly file: string,
    private readonly onFinding?: (f: Finding) => void,
    disabled: Set<string> = new Set(),
  ) {
    this.disabled = disabled;
    for (const [hook, all] of cat.byHook) {
      const rules = all.filter((r) => !disabled.has(r.meta.id));
      this.hooked.set(hook, { rules, run: compiledHook(all, rules), hit: new Uint8Array(rules.length), failed: new Int32Array(rules.length) });
    }
  }

  private readonly disabled: Set<string>;

  get exercised(): Set<string> {
    for (const h of this.hooked.values()) h.hit.forEach((x, i) => x && this.exercisedSet.add(h.rules[i]!.meta.id));
    return this.exercisedSet;
  }

  hasHook(hook: string): boolean {
    return this.hooked.has(hook);
  }

  /** The rules given at this hook (undefined: none), to run with Hook.run and report with failures(). */
  hook(hook: string): Hook | undefined {
    return this.hooked.get(hook);
  }

  /** Evaluates every rule given at this hook; scope is built by the caller only when hasHook() said so. */
  fire(hook: string, scope: Scope, ctx: HookContext): void {
    const h = this.hooked.get(hook);
    if (h === undefined) return;
    const n = h.run(scope, h.hit, h.failed);
    if (n > 0) this.failures(h, n, scope, ctx);
  }

  /** Reports the n rules a Hook's run() said failed on this scope. */
  failures(h: Hook, n: number, scope: Scope, ctx: HookContext): void {
    for (let i = 0; i < n; i++) this.report(h.rules[h.failed[i]!]!, scope, ctx);
  }

  /** A finding, unless the same cause on the same subject was already reported (then the line becomes related). */
  report(r: CompiledRule, scope: Scope, ctx: HookContext, extraMessage?: string): Finding | undefined {
    const { ev, subject } = ctx;
    const prior = subject?.flagged?.get(r.meta.id);
    if (prior) {
      if (!prior.related.some((x) => x.line === ev.line)) prior.related.push({ file: this.file, line: ev.line, raw: ev.raw, note: 'also reported here' });
      return undefined;
    }
    const key = `${r.meta.id}@${ev.line}`;
    if (this.seen.has(key)) return undefined;
    this.seen.add(key);
    const f: Finding = {
      rule: r.meta.id,
      severity: r.meta.severity,
      message: extraMessage ?? renderMessage(r.meta.message, scope),
      file: this.file,
      line: ev.line,
      raw: ev.raw,
      related: (resolve(ctx.related) ?? []).filter((x) => x.line !== ev.line),
      binding: resolve(ctx.binding),
      section: r.meta.section,
      source: 'model',
    };
    if (subject) (subject.flagged ??= new Map()).set(r.meta.id, f);
    this.lastByRule.set(r.meta.id, f);
    this.findings.push(f);
    this.onFinding?.(f);
    return f;
  }

  /** A QEMU pci_nvme_err_* or pci_nvme_ub_* event that names a rule of ours. */
  deviceEvent(ev: Ev, ctx: HookContext): boolean {
    const name = String(ev.f.event);
    let r = this.cat.byDeviceEvent.get(name);
    if (!r) {
      // Any other device-reported problem is still worth a finding, unless the fallback rule says it only
      // repeats what another line already carries (pci_nvme_err_req_status repeats every error completion).
      const fb = this.cat.rules.find((x) => x.spec.then.check === 'device-event' && x.spec.then.fallback === true);
      if (fb && !((fb.spec.then.ignore as string[] | undefined) ?? []).includes(name)) r = fb;
    }
    if (!r || this.disabled.has(r.meta.id)) return false;
    this.exercisedSet.add(r.meta.id);
    // The guest action this complaint is about was already reported as an error (by whatever rule): the
    // device's line is more evidence for that finding, not a second finding.
    const subj = ctx.subject;
    // QEMU may also complain a few lines after the guest action that caused it, once it acts on it (a
    // misaligned ASQ written at line 11 fails the enable at line 24): the same rule's recent finding owns it.
    const recent = this.lastByRule.get(r.meta.id);
    const prior =
      (subj?.flagged ? [...subj.flagged.values()].find((f) => f.severity === 'error') : undefined) ??
      (recent && ev.line - recent.line <= DEVICE_ECHO_WINDOW ? recent : undefined);
    if (prior) {
      if (!prior.related.some((x) => x.line === ev.line)) prior.related.push({ file: this.file, line: ev.line, raw: ev.raw, note: "the device reported it here" });
      // Later complaints about the same guest action (QEMU's generic "enable failed" after the specific reason)
      // belong to the same finding.
      if (subj) (subj.flagged ??= new Map()).set(prior.rule, prior);
      return true;
    }
    const body = ev.raw.slice(ev.raw.indexOf(String(ev.f.event)) + String(ev.f.event).length).trim();
    const said = `the device reported ${name}${body ? ` (${body})` : ''}`;
    const f = this.report(r, ev.f as Scope, ctx, r.spec.then.fallback === true ? said : `${r.meta.title}: ${said}`);
    if (f) f.source = 'device';
    return true;
  }

  /** A completion with an error status: the rule that owns that status, else the generic status rule. */
  status(ev: Ev, status: number, scope: Scope, ctx: HookContext): void {
    const code = status & 0x7ff;
    const r = this.cat.byStatus.get(code) ?? this.cat.rules.find((x) => x.spec.then.check === 'status-success');
    // (only wire-domain rules are indexed by status)
    if (!r || this.disabled.has(r.meta.id)) return;
    this.exercisedSet.add(r.meta.id);
    const ignore = (r.spec.then.ignore as number[] | undefined) ?? [];
    if (ignore.includes(code)) return;
    // A command already reported as an error for its cause needs no second finding for its status.
    const subj = ctx.subject;
    if (subj?.flagged && [...subj.flagged.values()].some((f) => f.severity === 'error')) {
      const first = [...subj.flagged.values()][0]!;
      if (!first.related.some((x) => x.line === ev.line)) first.related.push({ file: this.file, line: ev.line, raw: ev.raw, note: 'completed with an error status here' });
      return;
    }
    const generic = r.spec.then.check === 'status-success';
    const msg = generic ? undefined : `${r.meta.title}: ${String(scope.name)} cid ${String(scope.cid)} completed with status 0x${status.toString(16)} (${String(scope.status_name)})`;
    const f = this.report(r, scope, ctx, msg);
    if (f) f.source = 'device';
  }

  ruleIds(): string[] {
    return this.cat.rules.map((r) => r.meta.id);
  }
}
