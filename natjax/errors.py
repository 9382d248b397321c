"""The one exception type for mistakes a user can make and fix."""


class UserError(Exception):
    """A mistake in the config, data or workdir, told in one sentence that says how to fix it."""
