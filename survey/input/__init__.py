"""Reading domain lists: names, formats, readers, rejects, de-duplication and the chunked stream."""
