"""``python -m webui.cli``: the ``safeguarding`` command without the installed console script."""
import sys

from . import main

sys.exit(main())
