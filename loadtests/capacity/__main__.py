"""``python -m loadtests.capacity ...`` (``teleconsult load capacity ...``)."""

from loadtests.capacity import main

raise SystemExit(main())
