"""`python -m natjax.export`: the command-line front-end in `natjax.cli.export`."""

from natjax.cli import export

if __name__ == "__main__":
    export.run()
