"""Asking DNS: the wire codec, the socket transport, the resolver pool and its settings."""
