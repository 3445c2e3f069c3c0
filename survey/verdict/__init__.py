"""Judging one domain: its organizational domain, report vendors, and the verdict row."""
