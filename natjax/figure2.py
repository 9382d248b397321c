"""`python -m natjax.figure2`: the command-line front-end in `natjax.cli.figure2`."""

from natjax.cli import figure2

if __name__ == "__main__":
    figure2.run()
