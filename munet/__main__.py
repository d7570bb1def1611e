import sys

from munet.cli import main

if __name__ == "__main__":  # Candidate workers are spawned: they must not run the CLI.
    sys.exit(main())
