"""`python -m aggregator` is the `funnelfeed` command."""

from aggregator.cli import main

main()
