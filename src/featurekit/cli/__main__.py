"""`python -m featurekit.cli`: the same as the `featurekit` command."""

from .main import main

main()
