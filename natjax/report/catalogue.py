"""Every generated table of the README and docs: what it shows and which records it reads.

The commands that write the records are in each table's footnote, from the records themselves.
"""

from natjax.bench import assignment, decode, input_pipeline, kernel, probes, rounds, step
from natjax.report.tables import BenchTable, Column, Row, Table

SEEDS = "Top-1 in %: mean ± sample std over the n records, one per seed."
TOP1 = (Column("linear probe"), Column("MLP probe"), Column("kNN"))


def _trained(label: str, pattern: str, mlp: bool = True) -> Row:
    keys = ("linear_probe_top1", "mlp_probe_top1", "knn_top1")
    return Row(label, pattern, keys if mlp else (keys[0], keys[2]))


def _baseline(label: str, pattern: str, name: str, mlp: bool = True) -> Row:
    keys = tuple(f"baseline_{name}_{p}_top1" for p in ("linear", "mlp", "knn"))
    return Row(label, pattern, keys if mlp else (keys[0], keys[2]))


_FASHION = "fashion_mnist/nat/seed*.json"
FASHION_MNIST = Table(
    "fashion_mnist",
    columns=(Column("linear probe"), Column("kNN")),
    rows=(
        _trained("NAT, small convnet, 10 epochs", _FASHION, mlp=False),
        _baseline("same encoder at random initialisation", _FASHION, "random_init", mlp=False),
        _baseline("raw pixels", _FASHION, "raw_pixels", mlp=False),
    ),
    reference="same encoder at random initialisation",
    compare=("linear probe", "kNN"),
    legend=SEEDS,
)

# The CIFAR-10 comparison at 10,000 training images: `natjax.ablate --record` writes
# OBJECTIVE/seedS.json (and baselines/seedS.json) under cifar10_cpu_10k/.
_CIFAR_ROWS = (
    ("nat", "NAT"),
    ("supervised", "supervised (labels)"),
    ("simclr", "SimCLR"),
    ("moco", "MoCo v2"),
    ("swav", "SwAV"),
    ("deepcluster", "DeepCluster"),
    ("byol", "BYOL"),
    ("simsiam", "SimSiam"),
    ("instdisc", "InstDisc"),
    ("rotation", "RotNet"),
)
_CIFAR_COLUMNS = (
    *TOP1,
    Column("final loss", "final_loss", unit="loss"),
    Column("img/s", "images_per_second", unit="rate", spread=False),
)


def _cifar_trained(name: str, label: str) -> Row:
    keys = ("linear_probe_top1", "mlp_probe_top1", "knn_top1", "final_loss", "images_per_second")
    return Row(label, f"cifar10_cpu_10k/{name}/seed*.json", keys)


def _cifar_baseline(label: str, name: str) -> Row:
    keys = tuple(f"baseline_{name}_{p}_top1" for p in ("linear", "mlp", "knn"))
    return Row(label, "cifar10_cpu_10k/baselines/seed*.json", (*keys, None, None))


CIFAR10_10K = Table(
    "cifar10_cpu_10k",
    columns=_CIFAR_COLUMNS,
    rows=(
        *(_cifar_trained(n, label) for n, label in _CIFAR_ROWS),
        _cifar_baseline("random-init encoder", "random_init"),
        _cifar_baseline("raw pixels", "raw_pixels"),
    ),
    first="objective",
    reference="random-init encoder",
    compare=("linear probe", "kNN"),
    legend=SEEDS,
)


# Semi-supervised CIFAR-10 at 10,000 images: `natjax.main --record` of a `cifar10_cpu` run whose
# eval.protocols name finetune writes nat/seedS.json under cifar10_cpu_10k_finetune/.
_FRACTIONS = ("0.01", "0.1", "1")
_FINETUNE = "cifar10_cpu_10k_finetune/nat/seed*.json"
CIFAR10_10K_FINETUNE = Table(
    "cifar10_cpu_10k_finetune",
    columns=(Column("1% of the labels"), Column("10%"), Column("100%")),
    rows=(
        Row("NAT encoder, fine-tuned", _FINETUNE, tuple(f"finetune_top1@{f}" for f in _FRACTIONS)),
        Row(
            "same network from scratch",
            _FINETUNE,
            tuple(f"scratch_top1@{f}" for f in _FRACTIONS),
        ),
    ),
    first="encoder plus linear classifier, trained on",
    reference="same network from scratch",
    compare=("1% of the labels", "10%", "100%"),
    legend=SEEDS,
)


# Why the 1% margin is small: the same fine-tune at 1% of the labels with one thing changed,
# seed 0 each, under semisup_diagnostics/CHANGE/seed0.json (`natjax.main` or `natjax.evaluate
# --protocol=finetune --label_fractions=0.01 --record`). Each row has its own from-scratch run.
def _at_one_percent(label: str, pattern: str) -> Row:
    return Row(
        label, pattern, ("finetune_top1@0.01", "scratch_top1@0.01", "finetune_labelled@0.01")
    )


SEMISUP_DIAGNOSTICS = Table(
    "semisup_diagnostics",
    columns=(
        Column("fine-tuned"),
        Column("same network from scratch"),
        Column("labelled images", unit="rate", spread=False),
    ),
    rows=(
        _at_one_percent(
            "NAT encoder, as in the table above", "cifar10_cpu_10k_finetune/nat/seed0.json"
        ),
        _at_one_percent(
            "the same, its encoder at 0.1 × the classifier's rate",
            "semisup_diagnostics/nat_encoder_lr_x0.1/seed*.json",
        ),
        _at_one_percent(
            "NAT encoder trained on all 50,000 images",
            "semisup_diagnostics/nat_50k_images/seed*.json",
        ),
        _at_one_percent(
            "encoder pre-trained with the 10,000 images' labels",
            "semisup_diagnostics/supervised_encoder/seed*.json",
        ),
    ),
    first="encoder plus linear classifier, 1% of the training labels",
    legend="Top-1 in %, seed 0.",
)


# Transfer: `natjax.evaluate --transfer=... --record` of a run's encoder on the other dataset,
# its images converted to the encoder's input, writes nat/seedS.json under transfer_A_to_B/.
def _transfer(
    name: str, trained: str, pixels: str, native: tuple[str, str], more: tuple[Row, ...] = ()
) -> Table:
    pattern = f"{name}/nat/seed*.json"
    return Table(
        name,
        columns=(Column("linear probe"), Column("kNN")),
        rows=(
            _trained(trained, pattern, mlp=False),
            _baseline("same encoder at random initialisation", pattern, "random_init", mlp=False),
            _baseline(pixels, pattern, "raw_pixels", mlp=False),
            *more,
            _trained(*native, mlp=False),
        ),
        first="encoder",
        reference="same encoder at random initialisation",
        compare=("linear probe", "kNN"),
        legend=SEEDS,
    )


TRANSFER_CIFAR10_TO_FASHION_MNIST = _transfer(
    "transfer_cifar10_to_fashion_mnist",
    "NAT, trained on CIFAR-10 (10,000 images)",
    "raw pixels (32 × 32, gray in 3 channels)",
    ("for reference: NAT trained on Fashion-MNIST", _FASHION),
    more=(
        _trained(
            "NAT, trained on all 50,000 CIFAR-10 images",
            "transfer_cifar10_to_fashion_mnist/nat_50k_images/seed*.json",
            mlp=False,
        ),
    ),
)

TRANSFER_FASHION_MNIST_TO_CIFAR10 = _transfer(
    "transfer_fashion_mnist_to_cifar10",
    "NAT, trained on Fashion-MNIST (60,000 images)",
    "raw pixels (28 × 28, gray)",
    ("for reference: NAT trained on CIFAR-10 (10,000 images)", "cifar10_cpu_10k/nat/seed*.json"),
)


# The paper's Figure 2 on CIFAR-10 at 10,000 images: `natjax.figure2 --record` writes
# POINT/seedS.json under figure2_cifar10_cpu_10k/, a point being periodP_epochsE.
def _figure2(name: str, first: str, points: tuple[tuple[str, str], ...], reference: str):
    return Table(
        name,
        columns=(Column("linear probe"), Column("kNN")),
        rows=tuple(
            _trained(label, f"figure2_cifar10_cpu_10k/{point}/seed*.json", mlp=False)
            for label, point in points
        ),
        first=first,
        reference=reference,
        compare=("linear probe", "kNN"),
        legend=SEEDS,
    )


FIGURE2_PERIOD = _figure2(
    "figure2_period",
    "re-assignment (10 epochs)",
    (
        ("never", "period0_epochs10"),
        ("every epoch", "period1_epochs10"),
        ("every 3 epochs", "period3_epochs10"),
        ("every 10 epochs", "period10_epochs10"),
    ),
    "every 3 epochs",
)
FIGURE2_LENGTH = _figure2(
    "figure2_length",
    "training length (re-assigning every 3 epochs)",
    (
        ("5 epochs", "period3_epochs5"),
        ("10 epochs", "period3_epochs10"),
        ("20 epochs", "period3_epochs20"),
        ("40 epochs", "period3_epochs40"),
    ),
    "5 epochs",
)


def _bench(name: str, module, pattern: str) -> BenchTable:
    return BenchTable(name, module.format_table, pattern)


# One H100, transcribed (see the records): the ResNet-18 step with and without re-assignment.
H100_STEP = Table(
    "h100_step",
    columns=(
        Column("supervised img/s", "supervised_images_per_second", unit="rate"),
        Column("NAT, no re-assignment", "nat_no_reassign_images_per_second", unit="rate"),
        Column("NAT, re-assigning every step", "nat_reassign_images_per_second", unit="rate"),
        Column("re-assignment alone (ms)", "reassign_alone_seconds", unit="ms"),
        Column("its share of the step (%)", "reassign_share"),
        Column("NAT every step / supervised", "nat_vs_supervised", unit="x"),
        Column("MFU (NAT, %)", "mfu"),
    ),
    rows=(Row("ResNet-18 (CIFAR stem), bfloat16, 32 px, batch 256", "bench/h100/step/*.json"),),
    first="case",
)

TABLES = {
    t.name: t
    for t in (
        FASHION_MNIST,
        CIFAR10_10K,
        CIFAR10_10K_FINETUNE,
        SEMISUP_DIAGNOSTICS,
        TRANSFER_CIFAR10_TO_FASHION_MNIST,
        TRANSFER_FASHION_MNIST_TO_CIFAR10,
        FIGURE2_PERIOD,
        FIGURE2_LENGTH,
        H100_STEP,
        _bench("bench_kernel", kernel, "bench/cpu/kernel/*.json"),
        _bench("bench_rounds", rounds, "bench/cpu/rounds/*.json"),
        _bench("bench_assignment_cpu", assignment, "bench/cpu/assignment/*.json"),
        _bench("bench_step_cpu", step, "bench/cpu/step/*.json"),
        _bench("bench_probes_cpu", probes, "bench/cpu/probes/*.json"),
        _bench("bench_decode_cpu", decode, "bench/cpu/decode/*.json"),
        _bench("bench_input_cpu", input_pipeline, "bench/cpu/input/*/*.json"),
    )
}
