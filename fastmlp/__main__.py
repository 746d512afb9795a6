"""``python -m fastmlp``: see :mod:`fastmlp._cli`."""
from fastmlp._cli import main

raise SystemExit(main())
