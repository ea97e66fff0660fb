/** A problem located in an input file. Everything user-facing reports in this shape. */
export interface Located {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
  message: string;
}

export function formatLocated(d: Located): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/** An error the CLI turns into a clear message and exit code 2, never a stack trace. */
export class UserError extends Error {
  readonly details: Located[];
  constructor(message: string, details: Located[] = []) {
    super(message);
    this.name = 'UserError';
    this.details = details;
  }
}
