import sys

from notes_ocr.cli import main

sys.exit(main())
