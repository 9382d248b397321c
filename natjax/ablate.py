"""`python -m natjax.ablate`: the command-line front-end in `natjax.cli.ablate`."""

from natjax.cli import ablate

if __name__ == "__main__":
    ablate.run()
