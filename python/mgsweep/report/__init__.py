"""The report of one or more stores: figures, CSV tables and index.html (cli.build)."""
