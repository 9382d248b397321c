"""`python -m natjax.main`: the command-line front-end in `natjax.cli.train`."""

from natjax.cli import train

if __name__ == "__main__":
    train.run()
