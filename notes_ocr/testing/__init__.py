"""Tools for testing and measuring notes-ocr, shared by its tests and its benchmarks (as
``numpy.testing`` is): ``synth`` draws note pages with known text from MNIST digits or a
second hand, ``metrics`` scores what was read against the truth.

Not used when scanning; ``synth`` never feeds training (the model trains on MNIST's
training digits, the pages draw on its test digits).
"""
