"""`python -m natjax.evaluate`: the command-line front-end in `natjax.cli.evaluate`."""

from natjax.cli import evaluate

if __name__ == "__main__":
    evaluate.run()
