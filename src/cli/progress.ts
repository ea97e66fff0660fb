/**
 * Progress on stderr for long runs, only on a terminal: lines, lines/s, findings so far. Silent for the first
 * second, so short runs print nothing; erased when done so the report starts on a clean line.
 */
export class Progress {
  private readonly start = Date.now();
  private last = 0;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(lines: number, findings: number): void {
    if (!this.stream.isTTY) return;
    const now = Date.now();
    if (now - this.start < 1000 || now - this.last < 200) return;
    this.last = now;
    const rate = Math.round(lines / ((now - this.start) / 1000));
    this.stream.write(`\r\x1b[K${lines.toLocaleString('en-US')} lines, ${rate.toLocaleString('en-US')} lines/s, ${findings} finding${findings === 1 ? '' : 's'}`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
  }
}
