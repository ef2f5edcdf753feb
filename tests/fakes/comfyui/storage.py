"""The fake server's input/output/temp folders and ComfyUI's file-name rules (folder_paths semantics)."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
import time
from pathlib import Path

from PIL import Image

from .images import png_bytes, synth_image

mimetypes.add_type("image/webp", ".webp")

DIR_TYPES = ("input", "temp", "output")


class Storage:
    """input/, output/ and temp/ under one root; temp/ is wiped on every (re)start like the real server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.input_dir = str(root / "input")
        self.output_dir = str(root / "output")
        self.temp_dir = str(root / "temp")

    def prepare(self) -> None:
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        for folder in (self.input_dir, self.output_dir, self.temp_dir):
            os.makedirs(folder, exist_ok=True)
        example = os.path.join(self.input_dir, "example.png")
        if not os.path.exists(example):
            with open(example, "wb") as handle:
                handle.write(png_bytes(synth_image(0, 64, 64)))

    def directory_by_type(self, dir_type: str | None) -> str | None:
        return {"input": self.input_dir, "output": self.output_dir, "temp": self.temp_dir}.get(dir_type or "")

    def annotated(self, name: str) -> tuple[str, str | None]:
        """Split a trailing ` [output]`/` [input]`/` [temp]` annotation (folder_paths.annotated_filepath)."""
        for suffix, folder in (
            ("[output]", self.output_dir),
            ("[input]", self.input_dir),
            ("[temp]", self.temp_dir),
        ):
            if name.endswith(suffix):
                return name[: -len(suffix) - 1], folder
        return name, None

    def annotated_path(self, name: str, default_dir: str | None = None) -> str:
        name, folder = self.annotated(name)
        return os.path.join(folder or default_dir or self.input_dir, name)

    def exists_annotated(self, name: str) -> bool:
        return os.path.exists(self.annotated_path(name))

    def input_images(self) -> list[str]:
        """LoadImage's combo list: top-level image files of input/ only, sorted."""
        names = [n for n in os.listdir(self.input_dir) if os.path.isfile(os.path.join(self.input_dir, n))]
        return sorted(n for n in names if (mimetypes.guess_type(n)[0] or "").startswith("image"))

    @staticmethod
    def file_hash(path: str) -> str:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()


def _compute_vars(prefix: str, width: int, height: int) -> str:
    now = time.localtime()
    replacements = {
        "%width%": str(width),
        "%height%": str(height),
        "%year%": str(now.tm_year),
        "%month%": f"{now.tm_mon:02}",
        "%day%": f"{now.tm_mday:02}",
        "%hour%": f"{now.tm_hour:02}",
        "%minute%": f"{now.tm_min:02}",
        "%second%": f"{now.tm_sec:02}",
    }
    for key, value in replacements.items():
        prefix = prefix.replace(key, value)
    return prefix


def save_image_path(prefix: str, output_dir: str, width: int, height: int) -> tuple[str, str, int, str]:
    """folder_paths.get_save_image_path: (full folder, file stem, next counter, subfolder)."""
    if "%" in prefix:
        prefix = _compute_vars(prefix, width, height)
    subfolder = os.path.dirname(os.path.normpath(prefix))
    filename = os.path.basename(os.path.normpath(prefix))
    full_output_folder = os.path.join(output_dir, subfolder)
    common = os.path.commonpath((output_dir, os.path.abspath(full_output_folder)))
    if common != output_dir:
        # A bare Exception, like the server: clients see exception_type "Exception".
        raise Exception(
            "**** ERROR: Saving image outside the output folder is not allowed."
            f"\n full_output_folder: {os.path.abspath(full_output_folder)}"
            f"\n         output_dir: {output_dir}"
            f"\n         commonpath: {common}"
        )
    counters = []
    if os.path.isdir(full_output_folder):
        for existing in os.listdir(full_output_folder):
            head = existing[: len(filename) + 1]
            if os.path.normcase(head[:-1]) != os.path.normcase(filename) or head[-1:] != "_":
                continue
            try:
                counters.append(int(existing[len(filename) + 1 :].split("_")[0]))
            except ValueError:
                counters.append(0)
    else:
        os.makedirs(full_output_folder, exist_ok=True)
    counter = max(counters) + 1 if counters else 1
    return full_output_folder, filename, counter, subfolder


def open_image(path: str) -> Image.Image:
    """Image.open + load, raising PIL.UnidentifiedImageError for non-images like the real LoadImage."""
    with Image.open(path) as image:
        image.load()
        return image.copy()
