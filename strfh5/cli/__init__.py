"""The ``strfh5`` command line: one module per subcommand (see :mod:`strfh5.cli.main`)."""
