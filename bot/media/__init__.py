"""Result media: telling what a file is, and fitting videos, animations and audio under upload limits.

Plain Python over Pillow and PyAV (FFmpeg bundled in its wheels, so no system FFmpeg is needed). This
package's face is the light part (``kinds``: what a result is), which the job model and the ComfyUI
client use; the heavy part is imported where it is used: ``bot.media.fit`` (blocking re-encoding)
and ``bot.media.fitter`` (``MediaFitter``, which runs it off the event loop).
"""

from bot.media.kinds import TEXT_TYPE, FileType, OutputKind, extension_for, extension_type, file_type

__all__ = ["TEXT_TYPE", "FileType", "OutputKind", "extension_for", "extension_type", "file_type"]
