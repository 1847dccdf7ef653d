"""Interpretation: what a trained network looks at."""

from biocnn.interpret.motifs import FilterMotifs, filter_activations, filter_pwms, first_conv_layer, write_meme
from biocnn.interpret.mutagenesis import in_silico_mutagenesis, plot_mutagenesis
from biocnn.interpret.attribution import grad_cam, integrated_gradients, plot_attributions, resize_linear, saliency
from biocnn.interpret.features import (
    feature_maps, filter_images, find_layer, first_conv_layer_name, layer_model, plot_filters, top_activating,
)
from biocnn.interpret.dream import deep_dream, dream_step, layer_objective, plot_dreams
from biocnn.interpret.style import content_loss, gram_matrix, style_loss, style_transfer, vgg19_features

__all__ = [
    "FilterMotifs",
    "content_loss",
    "deep_dream",
    "dream_step",
    "feature_maps",
    "filter_activations",
    "filter_images",
    "filter_pwms",
    "find_layer",
    "first_conv_layer",
    "first_conv_layer_name",
    "grad_cam",
    "gram_matrix",
    "in_silico_mutagenesis",
    "integrated_gradients",
    "layer_model",
    "layer_objective",
    "plot_attributions",
    "plot_dreams",
    "plot_filters",
    "plot_mutagenesis",
    "resize_linear",
    "saliency",
    "style_loss",
    "style_transfer",
    "top_activating",
    "vgg19_features",
    "write_meme",
]
