"""Errors a user can act on: the CLI prints each as one line (a config error: one line per problem) and exits with
status 2."""


class CurateError(Exception):
    """A problem with the user's config, input or environment, told in one line that says what to do."""


class ConfigError(CurateError):
    """The pipeline YAML (or a command-line override) is invalid: one line per problem, each naming its key path."""
