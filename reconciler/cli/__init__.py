"""The command line: parses arguments, reads the environment, prints. No logic lives here."""
