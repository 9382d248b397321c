"""The ResNets (`natjax.models.resnet`) against torchvision's parameter counts."""

from configs.nat import get_config
from tests.models.counts import encoder_params


def test_resnet18_matches_torchvisions_parameter_count():
    config = get_config("cifar10")
    config.model.cifar_stem = False
    config.input.filter = "raw"  # RGB input, as torchvision's resnet18.
    count, (h, _) = encoder_params(config, (224, 224, 3))
    # torchvision resnet18: 11,689,512 parameters, less its 512 x 1000 + 1000 classifier.
    assert count == 11_689_512 - 513_000
    assert h.shape == (1, 512)


def test_resnet18_cifar_stem_keeps_32px_resolution_and_takes_sobel_input():
    count, (h, z) = encoder_params(get_config("cifar10"), (32, 32, 3))
    assert count == 11_689_512 - 513_000 - 7 * 7 * 3 * 64 + 3 * 3 * 2 * 64
    assert h.shape == (1, 512) and z.shape == (1, 128)


def test_resnet50_matches_torchvisions_parameter_count():
    config = get_config("cifar10")
    config.model.encoder = "resnet50"
    config.model.cifar_stem = False
    config.input.filter = "raw"
    count, (h, _) = encoder_params(config, (224, 224, 3))
    # torchvision resnet50: 25,557,032 parameters, less its 2048 x 1000 + 1000 classifier.
    assert count == 25_557_032 - 2_049_000
    assert h.shape == (1, 2048)
