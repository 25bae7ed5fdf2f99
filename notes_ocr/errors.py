"""The project's own error types: everything a user can cause comes out as one of these."""


class NotesOcrError(Exception):
    """Base class: a clear, one-line reason meant for the user."""


class InputError(NotesOcrError):
    """An input file or array cannot be read as a page."""


class ModelError(NotesOcrError):
    """A model file is missing, damaged or not a notes-ocr model."""


class DataError(NotesOcrError):
    """A data set (MNIST) cannot be found or read."""


class UnreadableFile(InputError):
    """The file cannot be opened or read: missing, a folder, no permission."""


class UndecodableImage(InputError):
    """The file's bytes are not an image we can decode: wrong format, truncated, corrupt."""


class ImageTooLarge(InputError):
    """The page has more pixels than the limit, as its header declares: refused before
    anything is decoded (a decompression bomb declares far more than its file holds)."""


class PageTimeout(InputError):
    """Reading the page took longer than the time limit; its worker was stopped."""
