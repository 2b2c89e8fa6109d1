import sys

from kerasspec.cli import main

sys.exit(main())
