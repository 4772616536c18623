/**
 * The EXIF orientation tag (0x0112) and the pixel transform it asks for. Keras (and
 * `tf.io.decode_jpeg`) ignore it; `decodeImage(..., { applyExifOrientation: true })` applies it the
 * way Pillow's `ImageOps.exif_transpose` does. No Node-only imports.
 */

/**
 * The orientation (1..8) stored in an EXIF payload (the TIFF structure after `Exif\0\0`), or 1
 * when there is none or the payload is malformed (a bad tag never fails a decode).
 */
export function exifOrientation(exif: Uint8Array | null): number {
  if (!exif || exif.length < 8) return 1;
  const le = exif[0] === 0x49 && exif[1] === 0x49;
  if (!le && !(exif[0] === 0x4d && exif[1] === 0x4d)) return 1;
  const u16 = (o: number): number => (le ? exif[o] | (exif[o + 1] << 8) : (exif[o] << 8) | exif[o + 1]);
  const u32 = (o: number): number => (le ? u16(o) + u16(o + 2) * 65536 : u16(o) * 65536 + u16(o + 2));
  const ifd = u32(4);
  if (ifd + 2 > exif.length) return 1;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > exif.length) return 1;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/**
 * Applies `orientation` to interleaved pixels (`c` channels): 2 mirror, 3 rotate 180, 4 flip,
 * 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise. Returns the new
 * size and a new buffer (or the input unchanged for orientation 1).
 */
export function applyOrientation<D extends Uint8Array | Float32Array>(
  data: D,
  width: number,
  height: number,
  c: number,
  orientation: number,
  make: (n: number) => D,
): { width: number; height: number; data: D } {
  if (orientation <= 1 || orientation > 8) return { width, height, data };
  const swap = orientation >= 5;
  const ow = swap ? height : width;
  const oh = swap ? width : height;
  const out = make(data.length);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2:
          [sx, sy] = [width - 1 - x, y];
          break;
        case 3:
          [sx, sy] = [width - 1 - x, height - 1 - y];
          break;
        case 4:
          [sx, sy] = [x, height - 1 - y];
          break;
        case 5:
          [sx, sy] = [y, x];
          break;
        case 6:
          [sx, sy] = [y, height - 1 - x];
          break;
        case 7:
          [sx, sy] = [width - 1 - y, height - 1 - x];
          break;
        default:
          [sx, sy] = [width - 1 - y, x];
      }
      const s = (sy * width + sx) * c;
      const o = (y * ow + x) * c;
      for (let k = 0; k < c; k++) out[o + k] = data[s + k];
    }
  }
  return { width: ow, height: oh, data: out };
}
