"""`python -m bot.cli`: the `triage` command, for processes started without the script."""

import sys

from bot.cli import main

if __name__ == "__main__":  # importing the module (as tests that walk packages do) runs nothing
    sys.exit(main())
