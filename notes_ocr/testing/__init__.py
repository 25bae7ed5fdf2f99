"""Tools for testing and measuring notes-ocr, shared by its tests and its benchmarks (as
``numpy.testing`` is):

    synth       note pages with known text, drawn from MNIST digits or a second hand
    metrics     what was read scored against the truth (character and digit error, lines)
    breakdown   what became of each written digit (right, misread, split, lost, merged)
    conditions  a plain scan with one thing changed at a time
    fuzz        each entry point fed hostile input by hypothesis (needs the test extra)

Not used when scanning; ``synth`` never feeds training (the model trains on MNIST's
training digits, the pages draw on its test digits).
"""
