"""The command line: `main` parses arguments and runs one command module (one per command)."""
