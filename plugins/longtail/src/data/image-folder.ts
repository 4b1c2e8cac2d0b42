import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataFormatError } from './errors';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp', '.gif'];

export interface FolderListing {
  classNames: string[];
  /** absolute paths, class-major, files sorted by name within a class */
  paths: string[];
  labels: Int32Array;
}

const isImage = (f: string) => IMAGE_EXTENSIONS.some((e) => f.toLowerCase().endsWith(e));

/**
 * Lists `root/<class>/<image>`: classes are the sub-folders in sorted order (label = position), images the
 * files with an image extension. With `classNames`, exactly those folders are read (a test split uses the
 * train split's classes). An empty class folder or a missing one is an error.
 */
export async function listImageFolder(root: string, classNames?: string[]): Promise<FolderListing> {
  let entries: string[];
  try {
    entries = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch (e) {
    throw new DataFormatError(root, '', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'folder not found: expected root/<class>/<image>' : (e as Error).message);
  }
  entries.sort();
  const classes = classNames ?? entries;
  if (classes.length === 0) throw new DataFormatError(root, '', 'no class folders: expected root/<class>/<image>');
  if (classNames) {
    const have = new Set(entries);
    const missing = classNames.filter((c) => !have.has(c));
    if (missing.length) throw new DataFormatError(root, `class folder ${JSON.stringify(missing[0])}`, `missing: expected the same classes as the training split (${missing.length} missing)`);
    const extra = entries.filter((c) => !classNames.includes(c));
    if (extra.length) throw new DataFormatError(root, `class folder ${JSON.stringify(extra[0])}`, 'not a class of the training split: expected the same classes');
  }
  const paths: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classes.length; c++) {
    const dir = join(root, classes[c]);
    const files = (await readdir(dir)).filter(isImage).sort();
    if (files.length === 0) throw new DataFormatError(dir, '', `class ${JSON.stringify(classes[c])} has no images: expected at least one file ending in ${IMAGE_EXTENSIONS.join(', ')}`);
    for (const f of files) {
      paths.push(join(dir, f));
      labels.push(c);
    }
  }
  return { classNames: classes, paths, labels: Int32Array.from(labels) };
}

export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
