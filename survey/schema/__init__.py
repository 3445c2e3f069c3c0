"""The vocabulary every layer shares: closed value sets, problem codes, the snapshot's columns."""
