"""`python -m bot.cli`: the `triage` command, for processes started without the script."""

import sys

from bot.cli import main

sys.exit(main())
