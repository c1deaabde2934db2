import sys

from kernelcollapse.cli import main

sys.exit(main())
