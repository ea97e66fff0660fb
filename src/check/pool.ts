import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkTrace, type CheckOptions } from './run.js';
import type { FileResult } from '../findings/finding.js';
import { UserError, type Located } from '../util/errors.js';
import { workerFile } from '../util/paths.js';

/**
 * Checks many traces at once, spreading files over worker threads up to the core count. Each file is still
 * one stream through one model; files are independent, so this is where the cores go. Results come back in
 * the order the files were given. A file that cannot be checked (unreadable, nothing to check) does not stop
 * the others: its UserError is collected in `failed` (an internal error still throws).
 */
export async function checkMany(
  files: string[],
  opts: CheckOptions & { shape?: string },
  threads = os.availableParallelism(),
  failed: UserError[] = [],
): Promise<FileResult[]> {
  const n = Math.min(threads, files.length);
  if (n <= 1 || files.includes('-')) {
    const out: FileResult[] = [];
    for (const f of files) {
      try {
        out.push(await checkTrace(f, opts));
      } catch (err) {
        if (!(err instanceof UserError) || files.length === 1) throw err;
        failed.push(err);
      }
    }
    return out;
  }
  const results: (FileResult | undefined)[] = new Array(files.length);
  let firstError: Error | undefined;
  let next = 0;
  // Options cross to the workers by structured clone: plain data only (a namespace list is plain data).
  const jobOpts = { format: opts.format, rulesDirs: opts.rulesDirs, maxFindings: opts.maxFindings, namespace: opts.namespace, shape: typeof opts.shape === 'string' ? opts.shape : undefined };
  await Promise.all(
    Array.from({ length: n }, () => {
      const w = new Worker(workerFile('check/worker.js'));
      return new Promise<void>((resolve, reject) => {
        const feed = (): void => {
          if (next >= files.length || firstError) {
            void w.terminate().then(() => resolve());
            return;
          }
          const id = next++;
          w.postMessage({ id, file: files[id], opts: jobOpts });
        };
        w.on('message', (m: { id: number; result?: FileResult; error?: { message: string; user: boolean; details: Located[] } }) => {
          if (m.error?.user) failed.push(new UserError(m.error.message, m.error.details));
          else if (m.error) firstError ??= new Error(m.error.message);
          else results[m.id] = m.result;
          feed();
        });
        w.on('error', reject);
        feed();
      });
    }),
  );
  if (firstError) throw firstError;
  return results.filter((r): r is FileResult => r !== undefined);
}
