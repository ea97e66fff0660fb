/**
 * The generic check kinds rule specs may name in `then.check`, and which checker evaluates each. A new rule of
 * an existing kind is pure YAML; a new kind is code here plus its evaluator.
 *  - wire: src/rules/engine.ts, at the hooks the controller model announces (options listed are expressions);
 *  - proof / evidence: src/proof and src/classify, on serial-log proof lines and DMA evidence rows.
 */
export interface CheckKind {
  domain: 'wire' | 'proof' | 'evidence' | 'input';
  /** Options holding expressions of grammar/expr.ohm, compiled when the catalog loads. */
  exprs: string[];
  needsGiven: boolean;
}

export const CHECK_KINDS: Record<string, CheckKind> = {
  assert: { domain: 'wire', exprs: ['that'], needsGiven: true },
  aligned: { domain: 'wire', exprs: ['value', 'to'], needsGiven: true },
  'at-most': { domain: 'wire', exprs: ['value', 'limit'], needsGiven: true },
  'at-least': { domain: 'wire', exprs: ['value', 'limit'], needsGiven: true },
  'status-success': { domain: 'wire', exprs: [], needsGiven: false },
  'device-event': { domain: 'wire', exprs: [], needsGiven: false },
  parser: { domain: 'input', exprs: [], needsGiven: false },
  // Proof lines (serial logs).
  syntax: { domain: 'proof', exprs: [], needsGiven: false },
  'duplicate-keys': { domain: 'proof', exprs: [], needsGiven: false },
  'unknown-keys': { domain: 'proof', exprs: [], needsGiven: false },
  'field-required': { domain: 'proof', exprs: [], needsGiven: false },
  'field-equals': { domain: 'proof', exprs: [], needsGiven: false },
  'field-in': { domain: 'proof', exprs: [], needsGiven: false },
  'field-implies': { domain: 'proof', exprs: [], needsGiven: false },
  'shape-known': { domain: 'proof', exprs: [], needsGiven: false },
  'shape-agreement': { domain: 'proof', exprs: [], needsGiven: false },
  'cross-line-same-boot': { domain: 'proof', exprs: [], needsGiven: false },
  'backend-policy': { domain: 'proof', exprs: [], needsGiven: false },
  // DMA evidence rows.
  'evidence-claim': { domain: 'evidence', exprs: [], needsGiven: false },
  'evidence-contradiction': { domain: 'evidence', exprs: [], needsGiven: false },
};
