"""`python -m llmrec ...`: the same command line as the `llmrec` script."""

from llmrec.cli import main

raise SystemExit(main())
