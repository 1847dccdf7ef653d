#!/usr/bin/env bash
# The ImageNet transfer study: EfficientNet-Lite0 from scratch vs ImageNet head-only vs ImageNet fine-tuned,
# through pipelines/transfer_learning.py. Run from the repository root:
#   bash pipelines/results/transfer_imagenet/study.sh grid  breast|bccd|adrenal|adrenal64     # seed 0, lr 0.01 and 0.001 per arm
#   bash pipelines/results/transfer_imagenet/study.sh seeds breast|bccd|adrenal|adrenal64 LR_SCRATCH LR_HEAD LR_FINETUNE [SEEDS...]
# Every arm runs without stochastic depth (--drop-connect-rate 0), as the first runs of the study did (before
# EfficientNet-Lite had it). AdrenalMNIST3D: the 2D Lite0 inflated to 3D (I3D), depth strided like the slices,
# 1x1 convolutions kept 1x1x1, and fewer epochs (an epoch costs ~20x a BreastMNIST one).
# ARMS="head finetune" limits the seeds mode to some arms (adrenal*: also head100, the head until early stopping). Runs go to $RUNS (default /work/artifacts/transfer_imagenet); each run's wall time is appended to $RUNS/times.tsv.
set -euo pipefail
RUNS=${RUNS:-/work/artifacts/transfer_imagenet}
mkdir -p "$RUNS"
mode=$1; data=$2; shift 2
case $data in
  breast) SRC="--npz datasets/medmnist/breastmnist.npz --class-names malignant benign --resize 64 64" ;;
  bccd)   SRC="--csv datasets/bccd_cells/cells.csv" ;;  # 64x64 RGB crops, kept at 64 px
  adrenal) SRC="--npz datasets/medmnist/adrenalmnist3d.npz --class-names normal hyperplasia --inflate-depth-stride --inflate-pointwise-depth 1" ;;
  # kernels one slice deep: the 2D Lite0 on every 28 px slice resized to 64 px, features pooled over the volume
  # (the first form's features were dead: adrenal_features.csv)
  adrenal64) SRC="--npz datasets/medmnist/adrenalmnist3d.npz --class-names normal hyperplasia --inflate-depth 1 --resize 64 64" ;;
  *) echo "unknown data $data" >&2; exit 2 ;;
esac
COMMON="--backbone efficientnet_lite0 --batch-size 32 --drop-connect-rate 0"
arm_flags() {
  if [ "${data#adrenal}" != "$data" ]; then
    case $1 in
      scratch)  echo "--weights none --bn-momentum 0.99 --epochs 10" ;;
      head)     echo "--weights imagenet --unfreeze 0 --head-epochs 10" ;;
      head100)  echo "--weights imagenet --unfreeze 0 --head-epochs 100" ;;  # cheap: the features are computed once
      finetune) echo "--weights imagenet --head-epochs 3 --unfreeze all --epochs 7" ;;
    esac
    return
  fi
  case $1 in
    scratch)  echo "--weights none --bn-momentum 0.99 --epochs 15" ;;
    head)     echo "--weights imagenet --unfreeze 0 --head-epochs 15" ;;
    finetune) echo "--weights imagenet --head-epochs 5 --unfreeze all --epochs 10" ;;
  esac
}
run() {  # arm lr seed
  local out="$RUNS/${data}_$1_lr$2_s$3"
  if [ -f "$out/metrics.json" ]; then echo "done: $out"; return; fi
  local start=$(date +%s)
  nice -n 10 python pipelines/transfer_learning.py $SRC $COMMON $(arm_flags "$1") --lr "$2" --seed "$3" \
      --out "$out" --overwrite > "$out.log" 2>&1
  echo -e "${data}\t$1\t$2\t$3\t$(( $(date +%s) - start ))" >> "$RUNS/times.tsv"
  tail -1 "$out.log"
}
if [ "$mode" = grid ]; then
  for lr in 0.001 0.01; do for arm in head finetune scratch; do run $arm $lr 0; done; done
else
  declare -A LR=([scratch]=$1 [head]=$2 [head100]=$2 [finetune]=$3); shift 3
  for seed in "$@"; do for arm in ${ARMS:-head finetune scratch}; do run $arm "${LR[$arm]}" "$seed"; done; done
fi
