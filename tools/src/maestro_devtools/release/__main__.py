"""``python -m maestro_devtools.release``."""

import sys

from maestro_devtools.release.cli import main

sys.exit(main())
