"""Interpretation: what a trained network looks at."""

from biocnn.interpret.motifs import FilterMotifs, filter_activations, filter_pwms, first_conv_layer, write_meme
from biocnn.interpret.mutagenesis import in_silico_mutagenesis, plot_mutagenesis
