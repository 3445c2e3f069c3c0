"""Mail flows: DMARC aggregate reports and flow tables in, one classified row per record out."""
