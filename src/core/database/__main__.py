"""`python -m core.database ...`: see core.database.cli."""

from core.database.cli import main

raise SystemExit(main())
