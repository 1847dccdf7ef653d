"""Predict new lab data with an exported biocnn model, streaming (the same command as ``biocnn predict``).

    python pipelines/predict.py --model exports/splice --fasta new_reads.fa --out preds.csv
    python pipelines/predict.py --model exports/ctcf --genome hg38.fa.gz --window 200 --stride 50 \\
        --out scan.csv --bedgraph scan.bedgraph

See ``biocnn predict --help`` for every option.
"""

import sys

from biocnn import cli
from biocnn.commands.predict import main

if __name__ == "__main__":
    cli.run_main(main, sys.argv[1:])
