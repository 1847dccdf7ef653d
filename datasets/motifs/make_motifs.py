"""Make the motif-presence task: is a binding motif somewhere in a 200 bp sequence, and which?

Three classes of 1,500 sequences each (200 bp, background drawn i.i.d. with 42 % GC, the human
genome's average):

* ``CTCF``: one instance of a CTCF-like core (consensus ``CCGCGNGGNGGCAG``, 14 bp) at a random
  position, on a random strand;
* ``AP1``: one instance of an AP-1 site (``TGASTCA``, 7 bp) at a random position and strand;
* ``none``: background only.

Each motif base is the consensus base with probability 0.7 and otherwise drawn from the
background (``N`` and ``S`` positions are drawn from the background or from C/G), so instances
are degenerate as real sites are. Unlike the splice junctions, where a site is (at the centre)
is uninformative here: only whether one is there. A model that can only see where (flattening)
must learn each motif once per position; one that can only see whether (global pooling, as
DeepBind) cannot serve the splice task. The default sequence model must serve both.

Run from the repository root (deterministic, seed 0; writes ``motifs.csv``):

    python datasets/motifs/make_motifs.py
"""

import csv
import os
import sys

import numpy as np

LENGTH = 200
PER_CLASS = 1500
GC = 0.42
CONSENSUS_P = 0.85
MOTIFS = {"CTCF": "CCGCGNGGNGGCAG", "AP1": "TGASTCA"}
IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "N": "ACGT", "S": "CG"}
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def background(rng, length):
    p = [(1 - GC) / 2, GC / 2, GC / 2, (1 - GC) / 2]
    return "".join(rng.choice(list("ACGT"), size=length, p=p))


def instance(rng, consensus):
    bases = []
    for code in consensus:
        options = IUPAC[code]
        if len(options) == 1 and rng.random() >= CONSENSUS_P:
            bases.append(background(rng, 1))
        else:
            bases.append(options[rng.integers(len(options))])
    site = "".join(bases)
    return site.translate(COMPLEMENT)[::-1] if rng.random() < 0.5 else site


def main(out=None):
    out = out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "motifs.csv")
    rng = np.random.default_rng(0)
    rows = []
    for label in ("CTCF", "AP1", "none"):
        for k in range(PER_CLASS):
            seq = background(rng, LENGTH)
            if label != "none":
                site = instance(rng, MOTIFS[label])
                start = int(rng.integers(0, LENGTH - len(site) + 1))
                seq = seq[:start] + site + seq[start + len(site):]
            rows.append((f"{label}_{k:04d}", seq, label))
    order = rng.permutation(len(rows))
    tmp = out + ".tmp"
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sequence", "label"])
        writer.writerows(rows[i] for i in order)
    os.replace(tmp, out)
    print(f"wrote {len(rows)} sequences to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
