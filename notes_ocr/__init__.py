"""notes-ocr: read handwritten digit strings off scanned and photographed notes."""

from notes_ocr.errors import InputError, ModelError, NotesOcrError
from notes_ocr.pipeline import Scanner, scan
from notes_ocr.recognizer import Recognizer
from notes_ocr.results import Digit, Line, Page, PageError

__all__ = [
    "Digit",
    "InputError",
    "Line",
    "ModelError",
    "NotesOcrError",
    "Page",
    "PageError",
    "Recognizer",
    "Scanner",
    "scan",
]
__version__ = "0.1.0"
