// Writes src/wasm/templates.generated.ts (AssemblyScript) and dist/wasm/typer-templates.json, before
// `npm run build:wasm` compiles the typer. Run after tsc: it reads the bundled QEMU event specs through the
// built host (dist/parse/qemu-wasm.js).
//
// The typer (src/wasm/typer.ts) runs each event's template as a program of op words. This turns every distinct
// program of the bundled specs into a function of its own, the same ops with their operands as constants, so
// the typer dispatches once per line instead of once per op. A program's text is its signature: the host
// (parse/qemu-wasm.ts) computes it for the specs it loads at run time and uses a compiled function only where
// the signatures match; anything else (a user's own specs) runs on the interpreter, whose meaning this
// mirrors op for op (test/typer-wasm.test.ts holds the two to each other on lines made from every template).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { programSignature, qemuEventTable } = await import(path.join(root, 'dist', 'parse', 'qemu-wasm.js'));
const { OP_DEC, OP_END, OP_HEX, OP_LIT, OP_NAN, OP_OPT, OP_OPT_END, OP_STR, OP_WORD } = await import(path.join(root, 'dist', 'wasm', 'ops.js'));

const programs = [];
const seen = new Set();
for (const def of qemuEventTable()) {
  const sig = programSignature(def);
  if (!seen.has(sig)) {
    seen.add(sig);
    programs.push(sig);
  }
}

const f64 = (n) => (Number.isInteger(n) ? `${n}.0` : String(n));

/** AssemblyScript statements for words[from..to) at group depth `depth`; FAIL leaves the group or the line. */
function body(words, from, to, depth, out, ind) {
  const FAIL = depth === 0 ? 'return -1;' : 'break;';
  let pc = from;
  while (pc < to) {
    const op = words[pc];
    if (op === OP_LIT) {
      const n = words[pc + 1];
      const nw = (n + 3) >> 2;
      const conds = [];
      for (let j = 0; j < nw; j++) {
        const w = words[pc + 2 + j] >>> 0;
        const rest = n - j * 4;
        const load = `load<u32>(buf + <usize>(p + ${j * 4}))`;
        conds.push(rest >= 4 ? `${load} != 0x${w.toString(16)}` : `(${load} & 0x${((2 ** (rest * 8)) - 1).toString(16)}) != 0x${w.toString(16)}`);
      }
      out.push(`${ind}if (p + ${n} > end) ${FAIL}`);
      out.push(`${ind}if (${conds.join(' || ')}) ${FAIL}`);
      out.push(`${ind}p += ${n};`);
      pc += 2 + nw;
    } else if (op === OP_DEC || op === OP_HEX) {
      const [slot, max, hasLim, lim, signed] = words.slice(pc + 1, pc + 6);
      out.push(`${ind}{`);
      const i2 = ind + '  ';
      out.push(`${i2}let neg = false;`);
      if (signed) out.push(`${i2}if (p < end && load<u8>(buf + <usize>p) == 45) { neg = true; p++; }`);
      out.push(`${i2}let x: f64 = 0;`);
      out.push(`${i2}const q = p;`);
      if (op === OP_HEX) {
        out.push(`${i2}while (p < end) { const d = load<i8>(hex + <usize>load<u8>(buf + <usize>p)); if (d < 0) break; x = x * 16 + <f64>d; p++; }`);
      } else {
        out.push(`${i2}while (p < end) { const c = <i32>load<u8>(buf + <usize>p); if (c < 48 || c > 57) break; x = x * 10 + <f64>(c - 48); p++; }`);
      }
      out.push(`${i2}if (p == q || p - q > ${max}) ${FAIL}`);
      out.push(`${i2}if (x > MAX_SAFE) return -1;`);
      if (hasLim) {
        const l = lim >>> 0;
        out.push(`${i2}if (x > (neg ? ${f64(l + 1)} : ${f64(l)})) ${FAIL}`);
      }
      out.push(`${i2}store<f64>(vals + ${slot * 8}, neg ? -x : x);`);
      out.push(`${ind}}`);
      pc += 6;
    } else if (op === OP_WORD) {
      const slot = words[pc + 1];
      out.push(`${ind}{`);
      const i2 = ind + '  ';
      out.push(`${i2}const q = p;`);
      out.push(`${i2}while (p < end) { const c = load<u8>(buf + <usize>p); if (c == 32 || c == 44 || c == 41 || c == 93 || c == 9) break; if (c > 127) return -1; p++; }`);
      out.push(`${i2}if (p == q) ${FAIL}`);
      out.push(`${i2}store<f64>(vals + ${slot * 8}, <f64>q);`);
      out.push(`${i2}store<i32>(ends + ${slot * 4}, p);`);
      out.push(`${ind}}`);
      pc += 2;
    } else if (op === OP_STR) {
      const [slot, anchored, un] = words.slice(pc + 1, pc + 4);
      const until = un > 0 ? words.slice(pc + 4, pc + 4 + un) : [];
      const matches = (a) => until.map((c, j) => `load<u8>(buf + <usize>(${a} + ${j})) == ${c}`).join(' && ');
      out.push(`${ind}{`);
      const i2 = ind + '  ';
      out.push(`${i2}let e = -1;`);
      if (un < 0) {
        if (anchored) out.push(`${i2}e = end;`);
      } else if (anchored) {
        out.push(`${i2}const a = end - ${un};`);
        out.push(`${i2}if (a >= p${un > 0 ? ` && ${matches('a')}` : ''}) e = a;`);
      } else {
        out.push(`${i2}for (let a = p; a + ${un} <= end; a++) { if (${un > 0 ? matches('a') : 'true'}) { e = a; break; } }`);
      }
      out.push(`${i2}if (e < 0) ${FAIL}`);
      out.push(`${i2}for (let j = p; j < e; j++) if (load<u8>(buf + <usize>j) > 127) return -1;`);
      out.push(`${i2}store<f64>(vals + ${slot * 8}, <f64>p);`);
      out.push(`${i2}store<i32>(ends + ${slot * 4}, e);`);
      out.push(`${i2}p = e;`);
      out.push(`${ind}}`);
      pc += 4 + (un > 0 ? un : 0);
    } else if (op === OP_OPT) {
      // The group runs to its OP_OPT_END (nesting counted); a failure inside puts p back and skips the group.
      let depthAt = 0;
      let endAt = pc + 2;
      for (let k = pc + 2; ; ) {
        const o = words[k];
        if (o === OP_OPT) {
          depthAt++;
          k += 2;
        } else if (o === OP_OPT_END) {
          if (depthAt === 0) {
            endAt = k;
            break;
          }
          depthAt--;
          k += 1;
        } else k += width(words, k);
      }
      const d = depth + 1;
      out.push(`${ind}{`);
      out.push(`${ind}  const s${d} = p;`);
      out.push(`${ind}  let ok${d} = false;`);
      out.push(`${ind}  do {`);
      body(words, pc + 2, endAt, d, out, ind + '    ');
      out.push(`${ind}    ok${d} = true;`);
      out.push(`${ind}  } while (false);`);
      out.push(`${ind}  if (!ok${d}) p = s${d};`);
      out.push(`${ind}}`);
      pc = endAt + 1;
    } else if (op === OP_NAN) {
      out.push(`${ind}store<f64>(vals + ${words[pc + 1] * 8}, NaN);`);
      pc += 2;
    } else if (op === OP_END) {
      out.push(`${ind}return p;`);
      pc += 1;
    } else {
      throw new Error(`unknown op ${op} at ${pc}`);
    }
  }
}

/** How many words the op at k takes (for finding a group's end). */
function width(words, k) {
  const op = words[k];
  if (op === OP_LIT) return 2 + ((words[k + 1] + 3) >> 2);
  if (op === OP_DEC || op === OP_HEX) return 6;
  if (op === OP_WORD || op === OP_NAN) return 2;
  if (op === OP_STR) return 4 + (words[k + 3] > 0 ? words[k + 3] : 0);
  if (op === OP_OPT) return 2;
  return 1;
}

const src = [
  '// GENERATED by scripts/gen-typer-templates.mjs from specs/trace/qemu-events.yaml: do not edit.',
  '// One function per distinct template program (see that script and src/wasm/typer.ts).',
  '',
  'const MAX_SAFE: f64 = 9007199254740991;',
  '',
];
programs.forEach((sig, id) => {
  const words = sig.split(',').map(Number);
  const out = [];
  body(words, 0, words.length, 0, out, '  ');
  src.push(`function t${id}(buf: usize, pos: i32, end: i32, vals: usize, ends: usize, hex: usize): i32 {`);
  src.push('  let p = pos;');
  src.push(...out);
  src.push('  return -1;');
  src.push('}', '');
});
src.push('/** Runs compiled program `id` over buf[pos..end): where it stops, or -1 (as the interpreter\'s scan). */');
src.push('export function scanCompiled(id: i32, buf: usize, pos: i32, end: i32, vals: usize, ends: usize, hex: usize): i32 {');
src.push('  switch (id) {');
programs.forEach((_, id) => src.push(`    case ${id}: return t${id}(buf, pos, end, vals, ends, hex);`));
src.push('    default: return -1;');
src.push('  }');
src.push('}', '');
fs.writeFileSync(path.join(root, 'src', 'wasm', 'templates.generated.ts'), src.join('\n'));
fs.mkdirSync(path.join(root, 'dist', 'wasm'), { recursive: true });
fs.writeFileSync(path.join(root, 'dist', 'wasm', 'typer-templates.json'), JSON.stringify(programs));
console.log(`typer templates: ${programs.length} compiled programs`);
