import sys

from munet.cli import main

sys.exit(main())
