"""The `survey` command: argument parsing, progress display, the demo; no logic of its own."""
