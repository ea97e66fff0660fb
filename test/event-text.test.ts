import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { QemuParser } from '../src/parse/qemu.js';
import { KeptLines, typedQemuBatches, type FilePoint } from '../src/read/qemu-batches.js';
import { typedEventsOf, QEMU_MODEL_EVENTS } from '../src/normalise/qemu.js';
import { keepText, lastingRaw, type Ev, type KeptText } from '../src/normalise/event.js';
import { TraceFileText } from '../src/read/lines.js';
import { checkTrace } from '../src/check/run.js';
import { cli, EXAMPLES, readLines, tmpdir } from './helpers.js';

/**
 * A typed line's event leaves its text in the batch (views of the read buffer) until something asks for it:
 * a finding, or a command that keeps it. The text must be the line's own whichever way the file was read,
 * including for a command submitted many batches before the finding that cites it.
 */
describe('event text cut from its batch on demand', () => {
  const lines = readLines(path.join(EXAMPLES, 'linux-mixed-io.log'));

  it('is the line, while the batch is current; read later, an error rather than another line', async () => {
    // Runs of 20,000 short lines of other output fill the typer's outputs (16,384 lines) within one read, so
    // a read is typed as several batches, each starting inside it.
    const noisy = lines.flatMap((l, i) => (i % 3000 === 1500 ? [...Array<string>(20_000).fill('x'), l] : [l]));
    const f = path.join(tmpdir(), 'mixed.log');
    fs.writeFileSync(f, noisy.join('\n') + '\n');
    const parser = new QemuParser();
    const kept: Ev[] = [];
    const lasting: [number, string][] = [];
    const places: [number, KeptText][] = [];
    let n = 0;
    for await (const t of typedQemuBatches(f, { wanted: QEMU_MODEL_EVENTS, blocking: true, views: true })) {
      typedEventsOf(
        t,
        parser,
        (e) => {
          expect(e.raw).toBe(noisy[e.line - 1]);
          n++;
          if (n % 997 === 0) {
            kept.push(e);
            lasting.push([e.line, lastingRaw(e)]);
            const k: KeptText = { raw: undefined, rawAt: -1, rawLen: 0 };
            keepText(e, k);
            places.push([e.line, k]);
          }
        },
        () => {},
      );
    }
    expect(n).toBeGreaterThan(5000);
    expect(kept.length).toBeGreaterThan(5);
    for (const e of kept) expect(() => e.raw).toThrow(/read after its batch was done/);
    for (const [line, raw] of lasting) expect(raw).toBe(noisy[line - 1]);
    // Kept as their place in the file, and read back from it.
    const file = new TraceFileText(f);
    for (const [line, k] of places) {
      expect(k.raw).toBeUndefined();
      expect(file.read(k.rawAt, k.rawLen)).toBe(noisy[line - 1]);
    }
    file.close();
  });

  it('is the line in batches typed for another thread, from where one thread handed the file to another', async () => {
    const f = path.join(tmpdir(), 'handed.log');
    fs.writeFileSync(f, lines.join('\n') + '\n');
    let chunks = 0;
    let point: FilePoint | undefined;
    for await (const t of typedQemuBatches(f, { wanted: QEMU_MODEL_EVENTS, blocking: true, views: true, handoff: (next) => (++chunks === 3 ? ((point = next), true) : false) })) void t;
    expect(point!.offset).toBeGreaterThan(0);
    const file = new TraceFileText(f);
    let n = 0;
    // As the reading thread types them: from the hand-over point, the bytes copied for the checking thread.
    for await (const t of typedQemuBatches(f, { wanted: QEMU_MODEL_EVENTS, blocking: true, transfer: true, from: () => point })) {
      const kept = new KeptLines(t);
      for (let i = 0; i < t.lineNos.length; i++) {
        const no = t.lineNos[i]!;
        expect(no).toBeGreaterThanOrEqual(point!.lineNo);
        expect(kept.line(i)).toBe(lines[no - 1]);
        expect(file.read(kept.where(i), kept.byteLength(i))).toBe(lines[no - 1]);
        n++;
      }
    }
    file.close();
    expect(n).toBeGreaterThan(1000);
  });

  it('a command kept across many batches cites its own submission line, read any way', async () => {
    // An Async Event Request is outstanding from early in the boot to the end; fail it just before shutdown.
    const at = lines.findIndex((l) => l.includes("opname 'NVME_ADM_CMD_ASYNC_EV_REQ'"));
    let end = lines.length - 1;
    while (end > 0 && !lines[end]!.startsWith('pci_nvme_irq_msix')) end--;
    expect(at).toBeGreaterThan(0);
    expect(Buffer.byteLength(lines.slice(at, end).join('\n'))).toBeGreaterThan(4 * 65536);
    const cid = /cid (\d+)/.exec(lines[at]!)![1];
    const mutated = [...lines.slice(0, end + 1), `pci_nvme_enqueue_req_completion cid ${cid} cqid 0 dw0 0x0 dw1 0x0 status 0x4002`, ...lines.slice(end + 1)];
    const f = path.join(tmpdir(), 'aer-failed.log');
    fs.writeFileSync(f, mutated.join('\n') + '\n');
    const runs = await Promise.all([{ pipeline: false }, { pipeline: true }, { pipeline: false, byteParsing: false }].map((how) => checkTrace(f, how)));
    const [typed, threaded, strings] = runs.map((r) => r.findings);
    expect(typed).toEqual(strings);
    expect(threaded).toEqual(strings);
    // Standard input cannot be read back: there, commands keep their text.
    const piped = cli(['check', '-', '--format', 'json'], mutated.join('\n') + '\n');
    const fromStdin = (JSON.parse(piped.stdout) as { files: { findings: { line: number; raw: string; related: { line: number; raw: string }[] }[] }[] }).files[0]!.findings;
    expect(fromStdin.map((x) => [x.line, x.raw, x.related.map((r) => [r.line, r.raw])])).toEqual(typed!.map((x) => [x.line, x.raw, x.related.map((r) => [r.line, r.raw])]));
    const failed = typed!.find((x) => x.rule === 'cmd-completion-error');
    expect(failed).toMatchObject({ line: end + 2, raw: mutated[end + 1], related: [{ line: at + 1, raw: lines[at], note: 'command submitted here' }] });
    for (const x of typed!) {
      expect(x.raw).toBe(mutated[x.line - 1]);
      for (const r of x.related) expect(r.raw).toBe(mutated[r.line - 1]);
    }
  });
});
