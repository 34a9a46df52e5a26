"""Warning category of pfda."""


class PfdaWarning(UserWarning):
    """A result is valid but probably not what was intended (grid too small, bound broken)."""
