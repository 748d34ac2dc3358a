"""Typed errors. Each subclasses the closest builtin too, so callers may catch either."""


class CirclesError(Exception):
    """Base class of every error circles raises on purpose."""


class InputError(CirclesError, ValueError):
    """User input (argument, file content) is invalid."""


class DataFileError(InputError):
    """A data file is missing, unreadable or malformed."""


class UnknownProfileError(InputError, KeyError):
    """A travel profile name that is not configured."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownRegionError(InputError, KeyError):
    """A region name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownCategoryError(InputError, KeyError):
    """A facility category that is not in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OutsideRegionError(InputError):
    """A coordinate lies outside the loaded region / network extent."""


class SnapError(InputError):
    """A point is farther from any usable street than the maximum snap distance."""


class CoordinateSystemError(InputError):
    """A coordinate system name is unknown or a file's declared CRS is inconsistent with its data."""


class EmptyNetworkError(DataFileError):
    """An OSM file holds no way usable by the requested profile."""
