"""Pure record parsers: text in, frozen dataclass with its problems out. No I/O here."""
