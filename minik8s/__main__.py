"""``python -m minik8s`` is the ``minik8s`` command."""

import sys

from minik8s.cli import main

sys.exit(main())
