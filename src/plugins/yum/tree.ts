/**
 * Directory (RAW) units of a yum repository: stored with the common directory helper, laid out by
 * the distributor next to repodata/ (kickstart trees: .treeinfo, images/).
 */
import path from 'node:path';
import type { ImporterConduit, Json, Unit, UploadRequest } from '../../engine/contract.js';
import { ingestDirectory } from '../common/directory.js';
import { str } from './units.js';

/** Store an uploaded directory as a `directory` unit (name: the unit key's, else the directory's base name). */
export async function storeDirectoryUpload(conduit: ImporterConduit, upload: UploadRequest): Promise<Unit> {
  const dir = upload.filePath!;
  const name = str(upload.unitKey.name, '') || path.basename(path.resolve(dir));
  const extra: Record<string, Json> = {};
  for (const [k, v] of Object.entries(upload.metadata)) if (k !== 'manifest') extra[k] = v;
  return ingestDirectory(conduit, dir, name, { signal: conduit.signal, metadata: extra });
}
