"""The project's own error types: everything a user can cause comes out as one of these.

A page that fails carries its error's ``code`` in its record (``results.PageError.type``):
a stable name, part of the output format, which renaming a class does not change.
"""


class NotesOcrError(Exception):
    """Base class: a clear, one-line reason meant for the user."""

    code = "Error"


class InputError(NotesOcrError):
    """An input file or array cannot be read as a page."""

    code = "InputError"


class ModelError(NotesOcrError):
    """A model file is missing, damaged or not a notes-ocr model."""

    code = "ModelError"


class DataError(NotesOcrError):
    """A data set (MNIST) cannot be found or read."""

    code = "DataError"


class UnreadableFile(InputError):
    """The file cannot be opened or read: missing, a folder, no permission."""

    code = "UnreadableFile"


class UndecodableImage(InputError):
    """The file's bytes are not an image we can decode: wrong format, truncated, corrupt."""

    code = "UndecodableImage"


class ImageTooLarge(InputError):
    """The page has more pixels than the limit, as its header declares: refused before
    anything is decoded (a decompression bomb declares far more than its file holds)."""

    code = "ImageTooLarge"


class PageTimeout(InputError):
    """Reading the page took longer than the time limit; its worker was stopped."""

    code = "PageTimeout"


class WorkerCrashed(NotesOcrError):
    """The process reading the page died (a crash in a native library, the out-of-memory
    killer); the batch went on without it."""

    code = "WorkerCrashed"


class InternalError(NotesOcrError):
    """Reading the page failed in a way notes-ocr did not foresee: a bug to report."""

    code = "InternalError"
