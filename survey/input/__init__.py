"""Reading domain lists: names, formats, readers, de-duplication and the chunked stream."""
