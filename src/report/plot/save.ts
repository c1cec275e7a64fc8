// Writing a chart to disk: PNG rendered by sharp (librsvg), or the SVG text itself.
import { basename, extname } from 'node:path';
import sharp from 'sharp';
import { atomicWriteFile } from '../../util/atomic-write.js';
import { PlotError } from './errors.js';

/**
 * Writes `svg` to `path`: the SVG text when the path ends in .svg, else a PNG of the same
 * pixel size rendered with sharp. Written atomically (temp file + rename) so a report
 * viewer never sees half a figure. Any other extension is refused rather than given PNG
 * bytes under a misleading name.
 */
export async function savePlot(svg: string, path: string): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (ext === '.svg') {
    atomicWriteFile(path, Buffer.from(svg, 'utf8'));
    return;
  }
  if (ext !== '.png') throw new PlotError(basename(path), 'path', `unsupported extension "${ext}": write .png or .svg`);
  let png: Buffer;
  try {
    png = await sharp(Buffer.from(svg, 'utf8')).png().toBuffer();
  } catch (e) {
    throw new PlotError(basename(path), 'svg', `could not render: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  atomicWriteFile(path, png);
}
