"""Pillow peer for the avatar benchmark: the same two renditions as media-svc.

For each file: JPEG `draft` to at least 512 px (DCT-scaled decode),
`ImageOps.exif_transpose`, `ImageOps.fit` 512x512 with LANCZOS, then 128x128
from the 512; JPEG quality 85 (PNG when the image has alpha); Pillow writes
no metadata unless asked to.

    python3 bench/pil_avatars.py --out DIR FILE...
"""

import argparse
import os

from PIL import Image, ImageOps


def avatars(path: str, out: str) -> None:
    stem = os.path.splitext(os.path.basename(path))[0]
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("RGB", (512, 512))
        upright = ImageOps.exif_transpose(image)
        if upright.mode not in ("RGB", "RGBA"):
            upright = upright.convert("RGBA" if "A" in upright.mode or "transparency" in upright.info else "RGB")
        large = ImageOps.fit(upright, (512, 512), Image.LANCZOS)
        small = ImageOps.fit(large, (128, 128), Image.LANCZOS)
        for size, rendition in ((512, large), (128, small)):
            if rendition.mode == "RGBA":
                rendition.save(os.path.join(out, f"{stem}-{size}.png"), optimize=False, compress_level=1)
            else:
                rendition.save(os.path.join(out, f"{stem}-{size}.jpg"), quality=85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for path in args.files:
        avatars(path, args.out)


if __name__ == "__main__":
    main()
