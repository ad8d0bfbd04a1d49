"""The ``codeeval`` command line. Each module in this package that defines
``register(subparsers)`` contributes its subcommands; :mod:`codeeval.cli.main` finds them."""
