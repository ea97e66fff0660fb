import fs from 'node:fs';
import { loadSpecFile } from '../specs/load.js';
import { specPath } from '../util/paths.js';
import { UserError } from '../util/errors.js';

export interface ControllerShape {
  id: string;
  cap: { mqes: number; cqr: number; ams?: number; to: number; dstrd: number; nssrs?: number; css: number; mpsmin: number; mpsmax: number };
  mdts: number;
  max_queue_pairs: number;
  msix_vectors?: number;
  nn?: number;
  aerl?: number;
  sqes?: { min: number; max: number };
  cqes?: { min: number; max: number };
  /** Namespace geometry the trace does not print (the disk behind each namespace: specs/disk/contract.yaml). */
  namespaces?: { nsid: number; lba_size: number; blocks?: number; read_only?: boolean; unmap?: 'zeroes' | 'unspecified' | 'ignored'; source?: string }[];
}

/** A shape by id (specs/shapes/<id>.yaml) or by file path; its controller section is what the model needs. */
export function loadShape(idOrFile = 'qemu-nvme'): ControllerShape {
  const file = fs.existsSync(idOrFile) ? idOrFile : specPath('shapes', `${idOrFile}.yaml`);
  if (!fs.existsSync(file)) throw new UserError(`${idOrFile}: no such shape (give a shape id from specs/shapes/ or a YAML file)`);
  const spec = loadSpecFile<{ id: string; controller?: Omit<ControllerShape, 'id'> }>(file, 'shape');
  if (!spec.data.controller) throw new UserError(`${file}: shape '${spec.data.id}' has no controller section, so it cannot drive the wire model`);
  return { id: spec.data.id, ...spec.data.controller };
}
