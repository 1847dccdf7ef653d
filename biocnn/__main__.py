"""``python -m biocnn``: the same as the installed ``biocnn`` command."""

import sys

from biocnn.command import main

if __name__ == "__main__":
    sys.exit(main())
