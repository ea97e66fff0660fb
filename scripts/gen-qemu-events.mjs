// Developer tool: regenerates specs/trace/qemu-events.yaml from QEMU-EVENTS.md (QEMU 7.2's hw/nvme/trace-events
// with argument types and formats). The YAML is the source of truth at run time; this script only records how
// it was derived. Usage: node scripts/gen-qemu-events.mjs ../shared/traces/QEMU-EVENTS.md > specs/trace/qemu-events.yaml
import fs from 'node:fs';

const md = fs.readFileSync(process.argv[2], 'utf8');
const defs = new Map();
const re = /(pci_nvme_[a-z0-9_]+)\(([^)]*)\)\s*"((?:[^"]|"PRI[a-z0-9]+")*)"/g;
// Table rows carry args and format without the name-with-parens form.
const rowRe = /^\| (pci_nvme_[a-z0-9_]+) \| `([^`]*)` `"((?:[^`])*)"` \| ([^|]*)\|/gm;
for (const m of md.matchAll(re)) if (!defs.has(m[1])) defs.set(m[1], { args: m[2], fmt: m[3], dead: false });
for (const m of md.matchAll(rowRe)) {
  const dead = /dead in 7\.2/.test(m[4]);
  if (!defs.has(m[1])) defs.set(m[1], { args: m[2], fmt: m[3], dead });
  else if (dead) defs.get(m[1]).dead = true;
}
for (const m of md.matchAll(/`(pci_nvme_[a-z0-9_]+)\([^`]*`\s*—\s*dead in 7\.2/g)) if (defs.has(m[1])) defs.get(m[1]).dead = true;

function parseArgs(s) {
  if (s.trim() === 'void' || s.trim() === '') return [];
  return s.split(',').map((a) => {
    const t = a.trim().replace(/\s*\*\s*/, ' * ');
    const parts = t.split(/\s+/);
    const name = parts.pop();
    return { type: parts.join(' '), name };
  });
}
function width(type) {
  if (/uint8_t|bool/.test(type)) return 8;
  if (/uint16_t/.test(type)) return 16;
  if (/uint64_t|int64_t|size_t/.test(type)) return 64;
  return 32;
}
const out = [];
out.push('# yaml-language-server: $schema=../schema/trace-events.schema.json');
out.push('# QEMU 7.2 `log` trace backend: one `pci_nvme_*` event per line. Each event is a template: literal text');
out.push('# with typed holes {name:type}; types: u8..u64 (decimal), i32 (signed decimal), x8..x64 (hex digits, the');
out.push("# 0x stays literal), str (any text up to the next literal). Derived from QEMU's hw/nvme/trace-events via");
out.push('# scripts/gen-qemu-events.mjs; the C format strings are kept beside each template for review.');
out.push('kind: trace-events');
out.push('format: qemu');
out.push('source: QEMU 7.2.22 hw/nvme/trace-events (Debian qemu-system-x86 1:7.2+dfsg-7+deb12u18)');
out.push('line_prefix: "optional `PID@SECONDS.MICROS:` (from -msg timestamp=on)"');
out.push('events:');
for (const [name, d] of [...defs.entries()].sort()) {
  const args = parseArgs(d.args);
  let fmt = d.fmt.replace(/%"PRI([a-z])(\d+)"/g, (_, c, w) => `%${c === 'i' ? 'd' : c}`).replace(/""$/, '');
  let i = 0;
  const tpl = fmt.replace(/\{/g, '{{').replace(/\}/g, '}}').replace(/%(?:l|ll|z|h|hh)?([uxdis])/g, (_, c) => {
    const a = args[i++];
    if (!a) throw new Error(`${name}: more conversions than args`);
    if (c === 's') return `{${a.name}:str}`;
    if (c === 'x') return `{${a.name}:x${width(a.type)}}`;
    if (c === 'd' || c === 'i') return `{${a.name}:i${width(a.type) === 64 ? 64 : 32}}`;
    return `{${a.name}:u${width(a.type)}}`;
  });
  if (i !== args.length) throw new Error(`${name}: ${args.length} args but ${i} conversions`);
  const cls = name.startsWith('pci_nvme_err_') ? 'err' : name.startsWith('pci_nvme_ub_') ? 'ub' : 'info';
  out.push(`  ${name}:`);
  out.push(`    template: ${JSON.stringify(tpl)}`);
  out.push(`    c_format: ${JSON.stringify(fmt)}`);
  out.push(`    class: ${cls}`);
  if (d.dead) out.push('    dead: true');
}
process.stdout.write(out.join('\n') + '\n');
process.stderr.write(`${defs.size} events\n`);
