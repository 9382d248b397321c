"""The command-line front-ends, one module each: flags, then one library call. `python -m
natjax.main` (`train`), `natjax.evaluate`, `natjax.export` and `natjax.ablate` run them; only
these modules define flags, so importing the library never does."""
