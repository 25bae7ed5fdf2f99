"""notes-ocr: read handwritten digit strings off scanned and photographed notes."""

from notes_ocr.batch import BatchScan, scan_batch
from notes_ocr.errors import InputError, ModelError, NotesOcrError
from notes_ocr.options import ScanOptions
from notes_ocr.pipeline import Scanner, scan
from notes_ocr.recognizer import Recognizer
from notes_ocr.results import Char, Line, Page, PageError, RecordsFile

__all__ = [
    "BatchScan",
    "Char",
    "InputError",
    "Line",
    "ModelError",
    "NotesOcrError",
    "Page",
    "PageError",
    "Recognizer",
    "RecordsFile",
    "ScanOptions",
    "Scanner",
    "scan",
    "scan_batch",
]
__version__ = "0.1.0"
