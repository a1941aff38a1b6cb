// The picture rules the server applies, checked in the browser first: JPEG
// or PNG (by their first bytes, as the server reads them), at most 2.5 MiB.
// A square of 512 pixels is only recommended, so it is a warning.
export const MAX_PICTURE_BYTES = 2_621_440;

export interface PictureCheck {
  bytes?: Uint8Array<ArrayBuffer>;
  error?: string;
  warning?: string;
}

export async function checkPicture(file: File): Promise<PictureCheck> {
  if (file.size > MAX_PICTURE_BYTES) {
    const mib = (file.size / 1024 / 1024).toFixed(1);
    return { error: `The picture is ${mib} MiB (${file.size} bytes); the limit is 2.5 MiB (${MAX_PICTURE_BYTES} bytes).` };
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => bytes[i] === b);
  if (!jpeg && !png) return { error: "The picture must be a JPEG or PNG file." };
  try {
    const bitmap = await createImageBitmap(new Blob([bytes]));
    const { width, height } = bitmap;
    bitmap.close();
    if (width !== height || width < 512) {
      return { bytes, warning: `The picture is ${width}x${height}; a square of 512x512 or more looks best.` };
    }
  } catch {
    // The browser cannot read it; the server decides, and says why.
  }
  return { bytes };
}
