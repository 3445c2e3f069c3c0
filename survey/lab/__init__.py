"""The offline lab: a synthetic zone with known truth, served on loopback only."""
