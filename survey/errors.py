"""The one exception root of the project.

Exceptions are for bugs and infrastructure only (a file that cannot be read, a server that
cannot start, a snapshot that is locked). DNS outcomes and record problems are values, never
exceptions. The CLI turns a `SurveyError` into one clear line and a non-zero exit code.
"""


class SurveyError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(SurveyError):
    """The domain list or an option cannot be used as given."""


class SnapshotError(SurveyError):
    """A snapshot cannot be written, read, resumed or locked."""


class ResolverError(SurveyError):
    """The resolver pool cannot be set up (bad nameserver, bad settings)."""


class LabError(SurveyError):
    """The offline lab cannot generate or serve its zone."""


class ClusterError(SurveyError):
    """The Dask cluster a scan runs on cannot be reached, has no usable worker, or was lost."""
