"""The scan: one domain's questions, chunks run in-process or in workers, retries, check."""
