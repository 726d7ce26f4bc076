"""``python -m txzpub``: the txzpub command line (see txzpub._cli)."""

from __future__ import annotations

import sys

from txzpub._cli import main

sys.exit(main())
