import fs from 'node:fs';
import path from 'node:path';
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { openLines } from '../read/lines.js';
import { QemuParser } from '../parse/qemu.js';
import { toLineBatch, typedQemuBatches } from '../read/qemu-batches.js';
import { recordsOf } from '../parse/records-of.js';
import { checkTrace } from '../check/run.js';
import { checkMany } from '../check/pool.js';
import { buildTrace } from './trace.js';
import { PACKAGE_ROOT } from '../util/paths.js';

/**
 * npm run bench [-- --lines N]: builds a large QEMU trace by repeating the I/O phase of the bundled real
 * trace (examples/linux-mixed-io.log), then measures, each in its own process so peak RSS is its own:
 * the raw floor (read + split, blocking reads), the same through a read stream, parse-only (WebAssembly typer, and
 * the string parser it replaced), and the full check. Prints lines/s, ratio to the floor, peak RSS.
 */

const SELF = fileURLToPath(import.meta.url);

async function phase(mode: string, file: string): Promise<{ lines: number; seconds: number; rss: number; findings?: number }> {
  const t0 = process.hrtime.bigint();
  let lines = 0;
  let findings: number | undefined;
  if (mode === 'floor') {
    // The product reads a file with blocking reads where it can (the reading thread, a one-thread check), so
    // the floor does too: read + decode + split, nothing else.
    for await (const b of openLines(file, true).batches()) lines += b.lines.length;
  } else if (mode === 'floor-stream') {
    // The same through a read stream (what standard input and gzip still use): for comparison only.
    for await (const b of openLines(file).batches()) lines += b.lines.length;
  } else if (mode === 'parse') {
    // Every line typed into its event's record (fields, line, raw text) from the read buffer, one thread, as
    // `check` and `parse` read a QEMU trace file.
    const p = new QemuParser();
    let records = 0;
    for await (const t of typedQemuBatches(file, { blocking: true })) {
      recordsOf(toLineBatch(t), p, () => records++);
      lines = t.lastLine;
    }
    if (records === 0) throw new Error('no records');
  } else if (mode === 'parse-text') {
    // The same with the string parser (split into strings, then parse each): what the typer replaced.
    const p = new QemuParser();
    for await (const b of openLines(file, true).batches()) {
      const ls = b.lines;
      for (let i = 0; i < ls.length; i++) p.parse(ls[i]!, b.firstLine + i);
      lines += ls.length;
    }

  } else if (mode === 'check' || mode === 'check-1t' || mode === 'check-2t' || mode === 'check-stdin') {
    // 'check' is what `nvmeproof check` does (a file of 128 MiB or more is read on a second thread); 'check-1t'
    // is always one thread, 'check-2t' always two; 'check-stdin' is `nvmeproof check - < file` (read once, as
    // from a pipe: runChild makes the file this process's standard input).
    const r = await checkTrace(mode === 'check-stdin' ? '-' : file, mode === 'check' || mode === 'check-stdin' ? {} : { pipeline: mode === 'check-2t' });
    lines = r.lines;
    findings = r.findings.length;
  } else {
    // many-N / many-N-serial: the same trace N times, over worker threads or one after the other.
    const [, n, serial] = mode.split('-');
    const files = Array.from({ length: Number(n) }, () => file);
    const rs = await checkMany(files, {}, serial ? 1 : undefined);
    lines = rs.reduce((a, r) => a + r.lines, 0);
    findings = rs.reduce((a, r) => a + r.findings.length, 0);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { lines, seconds, rss: process.resourceUsage().maxRSS * 1024, findings };
}

function runChild(mode: string, file: string): Promise<{ lines: number; seconds: number; rss: number; findings?: number }> {
  return new Promise((resolve, reject) => {
    const stdin = mode === 'check-stdin' ? fs.openSync(file, 'r') : 'ignore';
    const child = fork(SELF, ['--phase', mode, file], { stdio: [stdin, 'inherit', 'inherit', 'ipc'] });
    if (typeof stdin === 'number') fs.closeSync(stdin);
    child.on('message', (m) => resolve(m as { lines: number; seconds: number; rss: number }));
    child.on('exit', (code) => code !== 0 && reject(new Error(`${mode} phase exited ${code}`)));
  });
}

type PhaseResult = { lines: number; seconds: number; rss: number; findings?: number };

/**
 * Best of N fresh processes per phase (least time; peak RSS of that run), the phases interleaved: round after
 * round, each phase runs once. Other load on the machine only slows runs down, and it comes and goes: measured
 * one phase after another, a floor taken in a quiet minute against a check taken in a busy one would say more
 * about the machine than about the code.
 */
async function bestOf(modes: string[], file: string, runs: number): Promise<Map<string, PhaseResult>> {
  const top = new Map<string, PhaseResult>();
  for (let i = 0; i < runs; i++) {
    for (const mode of modes) {
      const r = await runChild(mode, file);
      const t = top.get(mode);
      if (!t || r.seconds < t.seconds) top.set(mode, r);
    }
  }
  return top;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--phase') {
    const r = await phase(args[1]!, args[2]!);
    process.send?.(r);
    return;
  }
  const li = args.indexOf('--lines');
  const target = li >= 0 ? Number(args[li + 1]) : 1_000_000;
  const big = args.includes('--memory') ? 10_000_000 : 0;
  const dir = path.join(PACKAGE_ROOT, 'bench-data');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `mixed-io-${target}.log`);
  if (!fs.existsSync(file)) buildTrace(target, file);
  const mb = (n: number): string => `${(n / 1048576).toFixed(0)} MB`;
  console.log(`trace: ${path.relative(process.cwd(), file)} (${(fs.statSync(file).size / 1048576).toFixed(0)} MiB); node ${process.version}; ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}`);
  const ri = args.indexOf('--runs');
  const runs = ri >= 0 ? Number(args[ri + 1]) : 5;
  console.log(`each figure is the best of ${runs} runs (--runs N), the phases taking turns round after round`);
  const phases = await bestOf(['floor', 'floor-stream', 'parse', 'parse-text', 'check', 'check-1t', 'check-2t', 'check-stdin'], file, runs);
  const floor = phases.get('floor')!;
  const rate = (r: { lines: number; seconds: number }): number => r.lines / r.seconds;
  const row = (name: string, r: { lines: number; seconds: number; rss: number; findings?: number }, base = floor): void =>
    console.log(`${name.padEnd(13)} ${Math.round(rate(r)).toLocaleString('en-US').padStart(12)} lines/s   ${(rate(r) / rate(base)).toFixed(2)} x floor   peak RSS ${mb(r.rss)}${r.findings !== undefined ? `   findings ${r.findings}` : ''}   (${r.lines.toLocaleString('en-US')} lines in ${r.seconds.toFixed(2)} s)`);
  row('raw floor', floor);
  row('floor, stream', phases.get('floor-stream')!);
  row('parse-only', phases.get('parse')!);
  row('parse, text', phases.get('parse-text')!);
  row('full check', phases.get('check')!);
  row('check, 1 thr', phases.get('check-1t')!);
  row('check, 2 thr', phases.get('check-2t')!);
  row('check, stdin', phases.get('check-stdin')!);
  // Many traces: every core. Eight copies of the 1M-line trace, one after the other and over worker threads.
  const seq = await runChild('many-8-serial', file);
  const par = await runChild('many-8', file);
  console.log(`8 traces      sequential ${seq.seconds.toFixed(2)} s, worker threads ${par.seconds.toFixed(2)} s: ${(seq.seconds / par.seconds).toFixed(2)}x on ${os.availableParallelism()} cores (${Math.round(rate(par)).toLocaleString('en-US')} lines/s in all)`);
  if (big) {
    const bigFile = path.join(dir, `mixed-io-${big}.log`);
    if (!fs.existsSync(bigFile)) buildTrace(big, bigFile);
    // Its own floor: the same file, read and split the same way (ratios compare runs over the same file).
    const big10 = await bestOf(['floor', 'check'], bigFile, Math.min(runs, 3));
    const bigFloor = big10.get('floor')!;
    row('floor 10M', bigFloor, bigFloor);
    row('check 10M', big10.get('check')!, bigFloor);
  } else console.log('(npm run bench -- --memory adds the 10M-line trace for peak RSS)');
}

await main();
