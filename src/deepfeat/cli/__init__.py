"""The ``deepfeat`` command: parse -> config -> one library call. Errors print one line and exit 2.

``deepfeat --help`` and ``deepfeat list`` import no torch: each subcommand imports what it needs when it runs.
"""

from deepfeat.cli.app import EXAMPLES, build_parser, main, version_text

__all__ = ["EXAMPLES", "build_parser", "main", "version_text"]
