"""NAT experiment configs: `--config=configs/nat.py[:PRESET]`.

Presets:
  default      Fashion-MNIST, small convnet, sized for ~15 minutes on a 2-core CPU.
  smoke        the same pipeline on 2,048 images drawn at random, under a minute on CPU
               (tests use it).
  ablation     the base of `python -m natjax.ablate`: the default on the first 10,000 training
               images, without the kNN monitor.
  cifar10      CIFAR-10 with a CIFAR-stem ResNet-18 (tfds `cifar10`, or `data.source=folder:PATH`).
  cifar10_strong  natjax's recipe beyond the paper: `cifar10` with SimCLR-style views on device
               (random resized crops, colour jitter, grayscale) on RGB input, an MLP head.
  cifar10_cpu  CIFAR-10 sized for a CPU: the small convnet, 10 epochs, every protocol but layers.
  imagenet     the paper's setting: AlexNet with batch norm, Sobel input, batch 256, SGD,
               constant step then linear decay, re-assignment every 3 epochs.
"""

import ml_collections

from natjax import objectives


def get_config(preset: str = "default") -> ml_collections.ConfigDict:
    """Returns the config of `preset` (see the module docstring)."""
    config = _base()
    presets = {
        "default": _fashion_mnist,
        "smoke": _smoke,
        "ablation": _ablation,
        "cifar10": _cifar10,
        "cifar10_strong": _cifar10_strong,
        "cifar10_cpu": _cifar10_cpu,
        "imagenet": _imagenet,
    }
    if preset not in presets:
        raise ValueError(
            f"Unknown preset {preset!r} for configs/nat.py; use one of "
            f"{', '.join(sorted(presets))} (e.g. --config=configs/nat.py:smoke)."
        )
    presets[preset](config)
    return config


def _base() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    # What is trained: "nat", or another objective of natjax.objectives.REGISTRY: "supervised"
    # (labels: the upper bound in the same harness) or one of NAT's successors, "simclr",
    # "rotation", "instdisc", "simsiam", "byol", "moco", "swav", "deepcluster"; each module
    # (natjax/objectives/NAME.py) says what it trains. `--config.objective=NAME` also applies
    # NAME's recipe (its learning rate, say) to the keys not set on the command line.
    c.objective = "nat"
    c.batch_size = 256  # Global batch, split over all devices.
    c.num_epochs = 10
    c.log_every_steps = 50
    c.progress_bar = True

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.every_steps = 100  # Also saved at every epoch end; 0 = at epoch ends only.
    c.checkpoint.keep = 3  # The latest this many are kept.

    c.data = ml_collections.ConfigDict()
    c.data.name = "fashion_mnist"  # tensorflow-datasets name.
    # "auto": Debian's Fashion-MNIST IDX files when installed, else tensorflow-datasets;
    # "tfds"; "idx:DIR" (IDX .gz files); "folder:PATH" (class sub-folders, or a .tar.gz of them);
    # "arrayrecord:DIR" (ArrayRecord files of tf.train.Example records, as tfds writes them).
    c.data.source = "auto"
    c.data.tfds_data_dir = ""  # Empty: tensorflow-datasets' default (~/tensorflow_datasets).
    c.data.train_split = "train"
    c.data.test_split = "test"
    c.data.image_size = 28  # Images are resized to this (square) when loaded from files.
    # Processes decoding a training run's images that are not in memory (grain's workers), and
    # threads decoding many at once elsewhere; 0 = one per core.
    c.data.decode_workers = 0
    # Sources (folders, tfds, ArrayRecord) decoding to more than this stay files, decoded per
    # batch by those workers.
    c.data.in_memory_gb = 2.0
    # 0 = all; N > 0 keeps N examples (ids stay in [0, N)): drawn at random by
    # `subset_seed` ("random"; every class stays, also in folders stored class by class), or
    # the first N ("first").
    c.data.max_train_examples = 0
    c.data.max_test_examples = 0
    c.data.subset = "random"
    c.data.subset_seed = 0

    c.input = ml_collections.ConfigDict()
    c.input.crop_size = 0  # Side of the random crop taken on device; 0 = data.image_size.
    c.input.crop_padding = 2  # Zero padding added on each side before the random crop.
    c.input.flip = True  # Random horizontal flip, on device.
    # The encoder's input: "sobel" (grayscale gradients, the paper's), "highpass" or "raw".
    c.input.filter = "sobel"
    # "paper": the random crops of the padded image and flips above; "strong": SimCLR-style
    # views (natjax.views) with the settings of `input.strong` (crop_padding unused).
    c.input.views = "paper"
    c.input.strong = ml_collections.ConfigDict()
    c.input.strong.min_scale = 0.2  # Smallest random-resized-crop area (share of the image).
    c.input.strong.jitter = 0.4  # Brightness, contrast, saturation factors in [1 - j, 1 + j].
    c.input.strong.hue = 0.1  # Hue rotation, up to this share of a turn.
    c.input.strong.jitter_prob = 0.8
    c.input.strong.grayscale_prob = 0.2
    c.input.strong.blur_prob = 0.0
    c.input.strong.solarize_prob = 0.0

    c.model = ml_collections.ConfigDict()
    c.model.encoder = "small_convnet"  # small_convnet | resnet18 | resnet50 | alexnet_bn
    c.model.widths = (32, 64, 128)  # small_convnet only.
    c.model.pool = "flatten"  # small_convnet's representation: "flatten" or "avg" (global).
    c.model.cifar_stem = True  # resnet18/50 only: 3x3 stem, no max-pool (for 32 px inputs).
    c.model.head_widths = ()  # Hidden layers of the projection head (Dense-BN-ReLU).
    # The head's hidden layers instead, for the objectives whose papers train through a
    # projection MLP (SimCLR, MoCo v2, BYOL, SimSiam, SwAV; the papers' 2,048-4,096 wide, scaled
    # to the small convnet); () leaves them `head_widths`.
    c.model.projection_widths = (512,)
    c.model.target_dim = 64  # d: the targets live on the unit sphere of R^d.
    # Compute dtype of the encoder and head: "float32" or "bfloat16" (mixed precision: the
    # parameters, optimizer, loss and the assignment's scores stay float32).
    c.model.dtype = "float32"

    # Each objective's own settings, `config.NAME` (NAT's `nat` among them): their defaults,
    # and why, are in its module, natjax/objectives/NAME.py.
    for name, section in objectives.default_settings().items():
        c[name] = section

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "sgd"  # sgd | adam
    c.optim.learning_rate = 0.05
    c.optim.momentum = 0.9
    c.optim.weight_decay = 5e-4
    c.optim.constant_fraction = 0.5  # Constant step for this share of training, then linear decay.

    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 1024  # Images encoded at a time: a feature chunk's rows.
    # Training features of at most this many bytes (n x D float32) are computed once and held
    # in host memory; larger ones are re-encoded, a chunk at a time, on every pass. Every
    # protocol runs the same algorithm on either. 4 GiB holds Fashion-MNIST's (60k x 6272).
    c.eval.max_feature_bytes = 4 << 30
    c.eval.linear = ml_collections.ConfigDict()  # The linear probe (natjax.evaluation.linear).
    c.eval.linear.epochs = 5
    c.eval.linear.batch_size = 256
    c.eval.linear.learning_rate = 1e-2  # Adam, cosine decay to 0.
    c.eval.linear.l2 = 1e-4
    c.eval.knn_k = 200
    c.eval.knn_temperature = 0.07
    c.eval.baselines = True  # Also probe the random-init encoder and raw pixels.
    # Run at the end of training (natjax.evaluate runs any of linear, mlp, knn, layers,
    # baselines, finetune).
    c.eval.protocols = ("linear", "knn", "baselines")
    c.eval.layer_dims = 2048  # Each layer's pooled size for the layer-wise probes.
    c.eval.mlp = ml_collections.ConfigDict()  # The paper's MLP classifier on frozen features.
    c.eval.mlp.widths = (512,)
    c.eval.mlp.epochs = 10
    c.eval.mlp.batch_size = 256
    c.eval.mlp.learning_rate = 1e-3
    c.eval.mlp.weight_decay = 1e-4
    # The kNN monitor during training: every this many epochs (0 = never), on the first N
    # training images as the bank and the first M test images as queries.
    c.eval.monitor_every_epochs = 1
    c.eval.monitor_train_examples = 5000
    c.eval.monitor_test_examples = 1000
    # The `finetune` protocol (natjax.training.finetune): the whole encoder plus a linear
    # classifier trained on a class-balanced share of the training labels at each fraction,
    # beside the same network from scratch; the run's optimizer at this learning rate, for at
    # least this many steps at every fraction.
    c.eval.finetune = ml_collections.ConfigDict()
    c.eval.finetune.label_fractions = (0.01, 0.1, 1.0)
    c.eval.finetune.steps = 500
    c.eval.finetune.batch_size = 128  # At most the labelled images.
    c.eval.finetune.learning_rate = 0.01
    # The pretrained encoder's steps, as a share of the new classifier's (the from-scratch row
    # trains every layer at the full rate).
    c.eval.finetune.encoder_learning_rate_scale = 1.0
    c.eval.finetune.checkpoint_every_steps = 0  # 0: epoch ends only, as training.
    return c


def _fashion_mnist(c: ml_collections.ConfigDict) -> None:
    del c  # The base is the Fashion-MNIST default.


def _smoke(c: ml_collections.ConfigDict) -> None:
    c.data.max_train_examples = 2048
    c.data.max_test_examples = 1000
    c.batch_size = 128
    c.num_epochs = 2
    c.nat.reassign_every = 1
    c.log_every_steps = 4
    c.checkpoint.every_steps = 4
    c.eval.knn_k = 20


def _ablation(c: ml_collections.ConfigDict) -> None:
    c.data.max_train_examples = 10000
    c.data.subset = "first"  # As the README's table was measured (Fashion-MNIST is shuffled).
    c.eval.monitor_every_epochs = 0
    c.progress_bar = False


def _cifar10(c: ml_collections.ConfigDict) -> None:
    c.data.name = "cifar10"
    c.data.source = "tfds"
    c.data.image_size = 32
    c.input.crop_padding = 4
    c.model.encoder = "resnet18"
    c.model.cifar_stem = True
    c.model.target_dim = 128
    c.model.projection_widths = (2048,)  # As solo-learn's CIFAR ResNet-18 runs.
    c.num_epochs = 100


def _cifar10_strong(c: ml_collections.ConfigDict) -> None:
    """Not the paper's recipe: views as strong as the contrastive methods' replace Sobel's
    removal of colour (colour jitter and grayscale), and the targets are fitted through an MLP
    head, so the encoder's pooled features need not be the targets themselves."""
    _cifar10(c)
    c.input.views = "strong"
    c.input.filter = "raw"
    c.model.head_widths = (512,)
    c.eval.protocols = ("linear", "mlp", "knn", "baselines")


def _cifar10_cpu(c: ml_collections.ConfigDict) -> None:
    _cifar10(c)
    c.model.encoder = "small_convnet"
    c.model.projection_widths = (512,)
    c.num_epochs = 10
    c.eval.protocols = ("linear", "mlp", "knn", "baselines")


def _imagenet(c: ml_collections.ConfigDict) -> None:
    c.data.name = "imagenet2012"
    c.data.source = "tfds"  # Prepared from tensorflow-datasets' manual directory.
    c.data.test_split = "validation"
    c.data.image_size = 256  # Stored size; random 224 crops are taken on device.
    c.input.crop_size = 224
    c.input.crop_padding = 0
    c.model.encoder = "alexnet_bn"
    c.model.head_widths = (4096, 4096)
    c.model.projection_widths = (2048,)  # SimCLR's and MoCo v2's on ImageNet.
    c.model.target_dim = 4096
    c.batch_size = 256
    c.num_epochs = 200
    c.optim.learning_rate = 0.05
    c.optim.weight_decay = 1e-5
    c.optim.constant_fraction = 0.5
    c.nat.reassign_every = 3
