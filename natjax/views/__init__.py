"""Views of images on the device, each a pure function of its key: the paper's crops and flips
(`crops`), SimCLR's strong views (`strong`), and the views a train step draws (`draw`)."""

from natjax.views.crops import center_crop, model_input_shape, random_crop_flip
from natjax.views.draw import two_views, view
from natjax.views.strong import ViewSpec, strong_view

__all__ = [
    "ViewSpec",
    "center_crop",
    "model_input_shape",
    "random_crop_flip",
    "strong_view",
    "two_views",
    "view",
]
