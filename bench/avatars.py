"""Avatar benchmark: media-svc's pipeline against vipsthumbnail and Pillow.

Every tool makes the same two renditions (512x512 and 128x128 centre crops,
upright, JPEG quality 85 or PNG when the image has transparency, no metadata)
from the same corpus, as whole processes over a whole format set. Runs
alternate between tools (the order rotates each round) so that drift in the
machine's speed hits every tool alike. Reported per tool and format:
median CPU time (user + system, all threads), median wall time and median
peak RSS, and the ratios of media-svc's medians to each peer's.

For JPEGs it also measures the floor: libjpeg-turbo's `djpeg` decoding each
file alone, at the DCT scale media-svc's pipeline picks for it (the smallest
eighth that keeps the short side at 512 pixels or more), to /dev/null. djpeg
takes one file per process, so the same number of djpeg runs on an 8x8 JPEG
(the cost of a process) is measured too and subtracted.

    python3 bench/avatars.py --corpus DIR --media-svc PATH [--rounds N] [--json FILE]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_measured(command, env=None):
    """Runs one process to completion; returns (cpu seconds, wall seconds, peak RSS bytes)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{command[0]} failed with exit code {process.returncode}: {' '.join(command)}")
    # ru_maxrss is in KiB on Linux.
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss * 1024


def has_alpha(path):
    """Whether a PNG declares an alpha channel (colour type 4 or 6): vipsthumbnail picks
    the output format by file name, so transparent images need their own run."""
    with open(path, "rb") as file:
        header = file.read(26)
    return header[:8] == b"\x89PNG\r\n\x1a\n" and header[25] in (4, 6)


class Tool:
    def __init__(self, name, commands):
        self.name = name
        # commands(files, out) -> list of (argv, env) run one after another.
        self.commands = commands

    def measure(self, files, out):
        cpu = wall = peak = 0
        for command, env in self.commands(files, out):
            c, w, p = run_measured(command, env)
            cpu, wall, peak = cpu + c, wall + w, max(peak, p)
        return cpu, wall, peak


def media_svc_tool(binary):
    return Tool("media-svc", lambda files, out: [([binary, "process", *files, "--out", out], None)])


def pillow_tool():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pil_avatars.py")
    return Tool("Pillow", lambda files, out: [([sys.executable, script, "--out", out, *files], None)])


def jpeg_size(path):
    """(width, height) from a JPEG's first SOF marker."""
    with open(path, "rb") as file:
        data = file.read()
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            at += 1
            continue
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(data[at + 2:at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[at + 7:at + 9], "big"), int.from_bytes(data[at + 5:at + 7], "big")
        at += 2 + length
    sys.exit(f"{path}: no frame header")


def pipeline_scale(path, wanted=512):
    """The eighths media-svc decodes at (media-svc/pipeline/src/jpeg.rs, smallest_scale)."""
    side = min(jpeg_size(path))
    return next((e for e in range(1, 9) if -(-side * e // 8) >= min(wanted, side)), 8)


def djpeg_tool():
    def commands(files, out):
        return [(["djpeg", "-scale", f"{pipeline_scale(f)}/8", "-outfile", os.devnull, f], None) for f in files]

    return Tool("djpeg decode (floor)", commands)


def spawn_tool(tiny):
    return Tool("djpeg on 8x8 (process cost)", lambda files, out: [(["djpeg", "-outfile", os.devnull, tiny], None)] * len(files))


def vips_tool():
    env = dict(os.environ, VIPS_CONCURRENCY="1")

    def commands(files, out):
        runs = []
        large = os.path.join(out, "large")
        os.makedirs(large, exist_ok=True)
        groups = {"png": [f for f in files if has_alpha(f)], "jpg": [f for f in files if not has_alpha(f)]}
        options = {"jpg": "[Q=85,strip]", "png": "[strip]"}
        for extension, group in groups.items():
            if not group:
                continue
            target = f"{large}/%s-512.{extension}{options[extension]}"
            runs.append((["vipsthumbnail", "--size", "512x512", "--smartcrop", "centre", "-o", target, *group], env))
            stems = [os.path.splitext(os.path.basename(f))[0] for f in group]
            made = [os.path.join(large, f"{stem}-512.{extension}") for stem in stems]
            target = f"{out}/%s-128.{extension}{options[extension]}"
            runs.append((["vipsthumbnail", "--size", "128x128", "--smartcrop", "centre", "-o", target, *made], env))
        return runs

    return Tool("vipsthumbnail", commands)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="directory with jpeg/ and png/ (bench/avatars.sh makes it)")
    parser.add_argument("--media-svc", required=True, help="path to the media-svc binary (release build)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    peers = [media_svc_tool(args.media_svc), vips_tool(), pillow_tool()]
    tiny = os.path.join(tempfile.mkdtemp(prefix="avatars-tiny-"), "tiny.jpg")
    subprocess.run([sys.executable, "-c", f"from PIL import Image; Image.new('RGB', (8, 8)).save({tiny!r})"], check=True)
    results = {}
    for format_name in ("jpeg", "png"):
        folder = os.path.join(args.corpus, format_name)
        files = sorted(os.path.join(folder, name) for name in os.listdir(folder))
        tools = peers + ([djpeg_tool(), spawn_tool(tiny)] if format_name == "jpeg" else [])
        samples = {tool.name: [] for tool in tools}
        for round_index in range(args.rounds):
            order = tools[round_index % len(tools):] + tools[:round_index % len(tools)]
            for tool in order:
                out = tempfile.mkdtemp(prefix=f"avatars-{tool.name}-")
                try:
                    samples[tool.name].append(tool.measure(files, out))
                finally:
                    shutil.rmtree(out)
        results[format_name] = {
            name: {
                "files": len(files),
                "cpu_s": statistics.median(s[0] for s in runs),
                "wall_s": statistics.median(s[1] for s in runs),
                "peak_rss_mib": statistics.median(s[2] for s in runs) / 2**20,
                "cpu_ms_per_image": 1000 * statistics.median(s[0] for s in runs) / len(files),
            }
            for name, runs in samples.items()
        }

    print(f"| format | tool | CPU s (median of {args.rounds}) | CPU ms/image | wall s | peak RSS MiB | media-svc CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    for format_name, by_tool in results.items():
        ours = by_tool["media-svc"]["cpu_s"]
        for name, figures in by_tool.items():
            ratio = "" if name in ("media-svc", "djpeg on 8x8 (process cost)") else f"{ours / figures['cpu_s']:.2f}x"
            print(
                f"| {format_name} | {name} | {figures['cpu_s']:.3f} | {figures['cpu_ms_per_image']:.1f} | "
                f"{figures['wall_s']:.3f} | {figures['peak_rss_mib']:.1f} | {ratio} |"
            )
    jpeg = results["jpeg"]
    floor = jpeg["djpeg decode (floor)"]["cpu_s"] - jpeg["djpeg on 8x8 (process cost)"]["cpu_s"]
    ours = jpeg["media-svc"]["cpu_s"]
    print(
        f"\nJPEG decode floor (djpeg at the pipeline's DCT scales, less {len(os.listdir(os.path.join(args.corpus, 'jpeg')))} "
        f"process starts): {floor:.3f} s CPU; media-svc: {ours:.3f} s = {ours / floor:.2f}x the floor"
    )
    results["jpeg_floor"] = {"floor_cpu_s": floor, "media_svc_cpu_s": ours, "ratio": ours / floor}
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
