"""Result media: telling what a file is, and fitting videos, animations and audio under upload limits.

Plain Python over Pillow and PyAV (FFmpeg bundled in its wheels, so no system FFmpeg is needed); the
heavy work is blocking and meant for a worker thread (``MediaFitter`` runs it off the event loop).
"""

from bot.media.fit import Fitted, fit_media, size_words
from bot.media.fitter import MediaFitter
from bot.media.kinds import TEXT_TYPE, FileType, OutputKind, extension_for, extension_type, file_type

__all__ = [
    "TEXT_TYPE",
    "FileType",
    "Fitted",
    "MediaFitter",
    "OutputKind",
    "extension_for",
    "extension_type",
    "file_type",
    "fit_media",
    "size_words",
]
