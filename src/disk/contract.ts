import { loadSpecFile } from '../specs/load.js';
import { specPath } from '../util/paths.js';
import { compileExprCached, ExprError, type Compiled } from '../rules/expr.js';
import { UserError } from '../util/errors.js';

/**
 * The disk backend contract (specs/disk/contract.yaml): the error classes and the NVMe statuses of each, which
 * the controller model uses to judge completions, and the checks `nvmeproof disk validate` runs on disk
 * descriptions. Loaded once per process.
 */

export type UnmapBehaviour = 'zeroes' | 'unspecified' | 'ignored';
export const UNMAP_BEHAVIOURS: readonly UnmapBehaviour[] = ['zeroes', 'unspecified', 'ignored'];

export interface ContractStatus {
  sct: number;
  sc: number;
  name: string;
  by?: string;
}

export interface ContractError {
  id: string;
  seed: string;
  statement: string;
  class: string;
  status: ContractStatus;
  also?: ContractStatus[];
  nvme?: string;
}

export interface ContractClause {
  id: string;
  title: string;
  statement: string;
  seed: string;
  nvme?: string;
  checked_by?: string[];
}

export interface DescriptorCheckSpec {
  id: string;
  applies_to: 'disk' | 'namespace';
  severity: 'error' | 'warning';
  at?: string;
  when?: string;
  that: string;
  message: string;
  section: string;
}

export interface DescriptorCheck extends DescriptorCheckSpec {
  whenFn?: Compiled;
  thatFn: Compiled;
}

export interface DiskContractSpec {
  kind: 'disk-contract';
  id: string;
  title: string;
  source: string;
  notes?: string[];
  geometry: ContractClause[];
  io: ContractClause[];
  unmap_behaviours: { id: UnmapBehaviour; statement: string; read_after_deallocate: string; seed: string; nvme: string }[];
  classes: { id: string; title: string; description: string }[];
  errors: ContractError[];
  descriptor_checks: DescriptorCheckSpec[];
}

export interface DiskContract {
  file: string;
  spec: DiskContractSpec;
  /** Class id -> the status codes ((SCT << 8) | SC) a frontend may complete a command of that cause with. */
  classStatuses: Map<string, Set<number>>;
  /** Status code -> the classes it belongs to (a code may serve several causes, e.g. Data Transfer Error). */
  statusClasses: Map<number, string[]>;
  /** Class id -> "LBA Out of Range (0x080)"-style text for messages. */
  classText: Map<string, string>;
  checks: DescriptorCheck[];
  /** True when the status code is one of the class's statuses. */
  inClass(code: number, cls: string): boolean;
}

export const CONTRACT_FILE = specPath('disk', 'contract.yaml');

function compile(src: string, what: string, file: string): Compiled {
  try {
    return compileExprCached(src);
  } catch (err) {
    if (err instanceof ExprError) throw new UserError(`${file}: ${what}: ${err.message}`);
    throw err;
  }
}

const code = (s: ContractStatus): number => (s.sct << 8) | s.sc;
const hex3 = (n: number): string => '0x' + n.toString(16).padStart(3, '0');

let loaded: DiskContract | undefined;

export function loadDiskContract(file = CONTRACT_FILE): DiskContract {
  if (loaded && loaded.file === file) return loaded;
  const spec = loadSpecFile<DiskContractSpec>(file, 'disk-contract').data;
  const classStatuses = new Map<string, Set<number>>();
  const statusClasses = new Map<number, string[]>();
  const names = new Map<number, string>();
  for (const c of spec.classes) classStatuses.set(c.id, new Set());
  for (const e of spec.errors) {
    const set = classStatuses.get(e.class);
    if (!set) throw new UserError(`${file}: error '${e.id}' names class '${e.class}', which the contract does not define`);
    for (const s of [e.status, ...(e.also ?? [])]) {
      const k = code(s);
      set.add(k);
      names.set(k, s.name);
      const list = statusClasses.get(k) ?? [];
      if (!list.includes(e.class)) list.push(e.class);
      statusClasses.set(k, list);
    }
  }
  // Each class's statuses as a phrase: the required ones in the contract's order, then the `also` ones.
  const classText = new Map<string, string>();
  for (const cls of classStatuses.keys()) {
    const errs = spec.errors.filter((e) => e.class === cls);
    const ordered = [...new Set([...errs.map((e) => code(e.status)), ...errs.flatMap((e) => (e.also ?? []).map(code))])];
    const words = ordered.map((k) => `${names.get(k)} (${hex3(k)})`);
    classText.set(cls, words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : (words[0] ?? cls));
  }
  const checks = spec.descriptor_checks.map((c) => ({
    ...c,
    whenFn: c.when ? compile(c.when, `${c.id}.when`, file) : undefined,
    thatFn: compile(c.that, `${c.id}.that`, file),
  }));
  loaded = {
    file,
    spec,
    classStatuses,
    statusClasses,
    classText,
    checks,
    inClass: (k, cls) => classStatuses.get(cls)?.has(k & 0x7ff) ?? false,
  };
  return loaded;
}
