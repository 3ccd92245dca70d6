"""`python -m cdnrec.cli ...` is `cdnrec ...`."""

import sys

from cdnrec.cli import main

sys.exit(main())
