import { parentPort } from 'node:worker_threads';
import { checkTrace, type CheckOptions } from './run.js';
import { UserError } from '../util/errors.js';

/** One worker thread: checks the traces it is sent, one at a time, and posts each FileResult back. */
interface Job {
  id: number;
  file: string;
  opts: Pick<CheckOptions, 'format' | 'rulesDirs' | 'maxFindings' | 'namespace'> & { shape?: string };
}

parentPort!.on('message', (job: Job) => {
  checkTrace(job.file, { ...job.opts, pipeline: false }).then(
    (result) => parentPort!.postMessage({ id: job.id, result }),
    (err: unknown) => {
      const e = err as Error;
      parentPort!.postMessage({ id: job.id, error: { message: e.message, user: err instanceof UserError, details: err instanceof UserError ? err.details : [] } });
    },
  );
});
