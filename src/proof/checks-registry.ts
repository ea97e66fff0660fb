/**
 * The generic check kinds the `proof` and `dma` rule families compose (specs/rules/proof-lines.yaml,
 * specs/rules/dma-classification.yaml): the JSON Schema of each kind's `then` options, the {placeholders} its
 * findings bind, and what it looks at. Implementations: src/proof/checks.ts (proof lines) and
 * src/classify/classify.ts (evidence rows). Adding a rule of an existing kind needs no code change.
 */

export type Verdict = 'ok' | 'missing' | 'wrong' | 'over-claims' | 'unknown-key';

export interface CheckKindDef {
  target: 'proof-line' | 'evidence';
  summary: string;
  required: string[];
  options: Record<string, object>;
  placeholders: string[];
}

const matcher = {
  type: 'object',
  description: 'key -> accepted values (after alias normalisation); matches when every key is present with one of its values',
  minProperties: 1,
  additionalProperties: { type: 'array', minItems: 1, items: { type: 'string' } },
};
const verdict = { enum: ['missing', 'wrong', 'over-claims', 'unknown-key'] };
const kindId = { type: 'string', pattern: '^[a-z][a-z0-9-]*$' };

export const CHECK_KINDS: Record<string, CheckKindDef> = {
  syntax: {
    target: 'proof-line',
    summary: 'a line with a known prefix that does not parse under grammar/serial.ohm',
    required: [],
    options: {},
    placeholders: ['col', 'expected', 'found'],
  },
  'duplicate-keys': {
    target: 'proof-line',
    summary: 'a key printed more than once',
    required: [],
    options: {},
    placeholders: ['field', 'value', 'other_value'],
  },
  'unknown-keys': {
    target: 'proof-line',
    summary: 'keys the kind (and the shape the line names) do not define',
    required: [],
    options: {},
    placeholders: ['field', 'value', 'shape_note'],
  },
  'field-required': {
    target: 'proof-line',
    summary: "required keys of the kind's spec and of the shape-derived keys that are absent (keys with checked_by another rule are left to it)",
    required: [],
    options: {},
    placeholders: ['field', 'meaning'],
  },
  'field-in': {
    target: 'proof-line',
    summary: "each present key's value fits its declared type / allowed values",
    required: [],
    options: {},
    placeholders: ['field', 'value', 'expected'],
  },
  'field-equals': {
    target: 'proof-line',
    summary: 'fixed keys equal fixed values (hex keys compare numerically, aliases count as their value)',
    required: ['fields'],
    options: {
      fields: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } },
      only_if: matcher,
      unless: matcher,
      verdict,
    },
    placeholders: ['field', 'value', 'expected'],
  },
  'field-implies': {
    target: 'proof-line',
    summary: 'cross-field rules within one line: when `if` matches, the `then` key must hold one of its values',
    required: ['implications'],
    options: {
      implications: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['if', 'then'],
          additionalProperties: false,
          properties: { if: matcher, then: { ...matcher, maxProperties: 1 } },
        },
      },
      report_on: { type: 'string', description: 'the key the finding binds to (default: the then key)' },
      verdict,
    },
    placeholders: ['field', 'value', 'expected', 'if_field', 'if_value', 'then_field', 'then_value'],
  },
  'shape-known': {
    target: 'proof-line',
    summary: "the key naming the shape (the kind's `shape.field`) names a known shape",
    required: [],
    options: {},
    placeholders: ['field', 'value', 'known'],
  },
  'shape-agreement': {
    target: 'proof-line',
    summary:
      "keys agree with facts of the shape the line names (or, with `via`, the shapes named by same-boot lines of that kind); key names may be `{path}` templates into the shape's classification, paths may start with `precursor.`",
    required: ['relation'],
    options: {
      fields: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } },
      map: { type: 'string', description: 'a classification map whose keys are proof-line keys and whose values are the expected values' },
      relation: { enum: ['equals', 'differs'] },
      missing: { enum: ['report', 'skip'] },
      if_shape: { type: 'string', description: 'skip shapes whose classification lacks this path' },
      via: kindId,
      only_if: matcher,
      unless: matcher,
      verdict,
    },
    placeholders: ['field', 'value', 'expected', 'shape', 'shape_file', 'related_line', 'problem', 'precursor'],
  },
  'cross-line-same-boot': {
    target: 'proof-line',
    summary: 'a line of another kind must appear in the same boot (checked when the boot ends)',
    required: ['requires', 'field'],
    options: { requires: kindId, field: { type: 'string' }, verdict },
    placeholders: ['other_kind', 'other_prefix', 'boot', 'boot_start'],
  },
  'backend-policy': {
    target: 'proof-line',
    summary:
      "the backend is one the policy (specs/dma/backend-policy.yaml) allows for the observation; the policy is read from same-boot lines of `policy_via`, else `default_policy`",
    required: ['backend_field', 'observation_field', 'default_policy'],
    options: {
      backend_field: { type: 'string' },
      observation_field: { type: 'string' },
      policy_via: kindId,
      policy_field: { type: 'string' },
      default_policy: { type: 'string' },
      verdict,
    },
    placeholders: ['field', 'value', 'observation', 'policy', 'expected'],
  },
  'evidence-claim': {
    target: 'evidence',
    summary: 'an evidence row does not claim a backend stronger than the one its observations derive (specs/dma/classification.yaml)',
    required: ['claim_fields'],
    options: { claim_fields: { type: 'array', minItems: 1, items: { type: 'string' } } },
    placeholders: ['row', 'claim_field', 'claimed', 'derived', 'reason'],
  },
  'evidence-contradiction': {
    target: 'evidence',
    summary: "an evidence row's observations (and its raw probe) do not contradict each other",
    required: [],
    options: {},
    placeholders: ['row', 'detail'],
  },
};
