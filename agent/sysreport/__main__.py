"""`python -m sysreport` runs the same CLI as the `sysreport` console script."""

import sys

from sysreport.cli import main

sys.exit(main())
