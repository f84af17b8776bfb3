#!/usr/bin/env python3
"""Writes a large test image for tiled inference: the given images, each scaled and centre-cropped
to TILE x TILE pixels by FFmpeg, laid out GRID x GRID (cycling through them) as one 8-bit RGB PNG,
written a row at a time (FFmpeg's PNG encoder stops short of 16384x16384). Needs ffmpeg on PATH;
holds one tile per input in memory.

    python3 benchmarks/mosaic_png.py ../shared/data/images/content/*.jpg -o mosaic_16k.png
"""
import argparse
import struct
import subprocess
import sys
import zlib


def tile(path, size):
    scale = f"scale={size}:{size}:force_original_aspect_ratio=increase:flags=lanczos,crop={size}:{size}"
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", scale, "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-"], capture_output=True, check=True).stdout
    if len(out) != size * size * 3:
        sys.exit(f"mosaic_png: {path}: FFmpeg gave {len(out)} bytes, expected {size * size * 3}")
    return out


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--tile", type=int, default=4096)
    parser.add_argument("--grid", type=int, default=4)
    a = parser.parse_args()
    tiles = [tile(p, a.tile) for p in a.images]
    side = a.tile * a.grid
    row_bytes = a.tile * 3
    compress = zlib.compressobj(1)
    with open(a.output, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)))
        for ty in range(a.grid):
            for y in range(a.tile):
                row = bytearray(b"\x00")  # filter: none
                for tx in range(a.grid):
                    row += tiles[(ty * a.grid + tx) % len(tiles)][y * row_bytes:(y + 1) * row_bytes]
                data = compress.compress(bytes(row))
                if data:
                    out.write(chunk(b"IDAT", data))
        out.write(chunk(b"IDAT", compress.flush()) + chunk(b"IEND", b""))
    print(f"mosaic_png: {a.output}: {side}x{side}, {len(a.images)} images")


if __name__ == "__main__":
    main()
