"""natjax: Noise As Targets (Bojanowski & Joulin, 2017) in JAX, accelerator-native.

The public API: `load_encoder` (an exported encoder as `encode(images) -> features`),
`export` (a run's encoder to a standalone directory) and `natjax.assignment.solve` (the
batch's image-to-target assignment, jittable). The packages:

- `assignment`: the `b x b` assignment solvers (auction on the device, Hungarian, SciPy);
- `data`: datasets (IDX, image folders, tfds, ArrayRecord), subsets, the epoch order, the grain
  input pipeline;
- `views`: the paper's crops and flips, strong views, as the step draws them;
- `models`: encoders, the NAT model (filters, encoder, head), shared layers, features;
- `objectives`: the train step, its state and contract, NAT and its successors;
- `training`: a run's setup, loop and job, the optimizer, preemption, ablations;
- `evaluation`: the protocols (linear, MLP, kNN, layer-wise), the monitor, the figures;
- `checkpoints`: the train state's checkpoints, the run's files, the exported encoder;
- `parallel`: the device mesh and multi-host runs;
- `cli` (and the `python -m natjax.main`, `.evaluate`, `.export`, `.ablate` commands), `bench`.
"""

from natjax.checkpoints.encoder import export, load_encoder

__all__ = ["export", "load_encoder"]
