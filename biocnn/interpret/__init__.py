"""Interpretation: what a trained network looks at."""

from biocnn.interpret.motifs import FilterMotifs, filter_activations, filter_pwms, first_conv_layer, write_meme
from biocnn.interpret.mutagenesis import in_silico_mutagenesis, plot_mutagenesis
from biocnn.interpret.attribution import grad_cam, integrated_gradients, plot_attributions, resize_linear, saliency
from biocnn.interpret.features import (
    feature_maps, filter_images, find_layer, first_conv_layer_name, layer_model, plot_filters, top_activating,
)
from biocnn.interpret.dream import deep_dream, dream_step, layer_objective, plot_dreams
from biocnn.interpret.style import content_loss, gram_matrix, style_loss, style_transfer, vgg19_features
