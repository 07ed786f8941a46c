"""How much faster ``cnnscore train``'s epoch loop is than the ``keras.Model.fit`` it replaced, and
that both train to the same weights.

Both train the same network from the same seed on the same tensor stores, in this process, in
interleaved rounds (loop, fit, loop, fit, ...): ``fit`` is the function ``train`` ran before
(``keras_fit`` below), put in place of ``cnnscore.training.epochs.run_epochs``. Printed per run:
seconds of training (all epochs, the validation passes included) and milliseconds per tensor fed,
epochs times tensors fed per epoch plus validation; then the median ratio and whether the two
exported weight files are byte-identical. With no ``--tensors``, the real smoke set's 251
HaplotypeCaller calls (2D read tensors, each call labelled by itself) are written to a temporary
store, given ``--repeat`` times.

    .venv/bin/python bench/train_epochs.py --model-kind compact-2d --epochs 3 --rounds 2 \\
        --teacher python/cnnscore/models/gatk_small_2d/small_2d.json --annotation-draws 1
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cnnscore.backends import cpu
from cnnscore.training import epochs
from cnnscore.training.train import TrainOptions, run_train

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "testdata" / "na12878_chr20_smoke"


def keras_fit(model, training, validation, epoch_count, callbacks):
    """``train``'s fit call before the loop (training/epochs.py)."""
    return model.fit(training, validation_data=validation, epochs=epoch_count, shuffle=False,
                     callbacks=list(callbacks), verbose=0).history  # fmt: skip


def smoke_store(folder: Path) -> Path:
    """Every smoke-set call as a 2D tensor, labelled by itself (its own VCF as truth)."""
    bed = folder / "all.bed"
    bed.write_text("chr20\t0\t64444167\n")
    store = folder / "smoke_tensors"
    subprocess.run(
        [sys.executable, "-m", "cnnscore", "write-tensors", "-V", SMOKE / "hc.gatk4.vcf.gz",
         "-R", SMOKE / "ref.chr20.fa.gz", "-I", SMOKE / "NA12878.chr20_10M_10.1M.bam",
         "--truth-vcf", SMOKE / "hc.gatk4.vcf.gz", "--truth-bed", bed, "--tensor-type",
         "read_tensor", "--downsample-snps", "1", "--downsample-indels", "1", "-O", store],
        check=True,
    )  # fmt: skip
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tensors", action="append", help="tensor store (repeatable)")
    parser.add_argument("--repeat", type=int, default=8, help="each store given this many times")
    parser.add_argument("--model-kind", default="compact-2d")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--teacher", help="distil from this GATK JSON (small_2d.json)")
    parser.add_argument("--annotation-draws", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cnnscore-train-bench-") as scratch:
        work = Path(scratch)
        stores = args.tensors or [str(smoke_store(work))]
        options = dict(
            tensors=tuple(stores * args.repeat), model_kind=args.model_kind, epochs=args.epochs,
            batch_size=args.batch_size, patience=args.epochs, learning_rate=1e-3, seed=1,
            teacher_architecture=args.teacher, annotation_draws=args.annotation_draws,
        )  # fmt: skip
        runs: dict[str, list[float]] = {"loop": [], "fit": []}
        digests: dict[str, set[str]] = {"loop": set(), "fit": set()}
        run_epochs = epochs.run_epochs
        for round_number in range(args.rounds):
            for name, function in (("loop", run_epochs), ("fit", keras_fit)):
                epochs.run_epochs = function
                prefix = work / f"{name}{round_number}"
                report = run_train(TrainOptions(output=str(prefix), **options)).report
                training = report["training"]
                fed = training["fed_per_epoch"] + report["validation"]["tensors"]
                seconds = training["seconds"]
                milliseconds = seconds * 1000 / (fed * training["epochs_run"])
                runs[name].append(milliseconds)
                digests[name].add(hashlib.sha256(Path(f"{prefix}.hd5").read_bytes()).hexdigest())
                print(f"round {round_number + 1} {name}: {seconds:.1f} s, {milliseconds:.2f} ms "
                      f"per tensor fed ({fed:,} per epoch x {training['epochs_run']})",
                      flush=True)  # fmt: skip
        epochs.run_epochs = run_epochs

    loop, fit = statistics.median(runs["loop"]), statistics.median(runs["fit"])
    identical = len(digests["loop"] | digests["fit"]) == 1
    print(f"\nCPU: {cpu.describe()}, {os.cpu_count()} cores; {args.model_kind}, "
          f"batch {args.batch_size}, {args.epochs} epochs"
          f"{', distilled from ' + Path(args.teacher).name if args.teacher else ''}")  # fmt: skip
    print(f"| training | ms per tensor fed (median of {args.rounds}) | ratio to fit |")
    print("|---|---|---|")
    print(f"| keras fit (before) | {fit:.2f} | 1.00x |")
    print(f"| epoch loop (now) | {loop:.2f} | {fit / loop:.2f}x |")
    print(f"weights byte-identical across all {2 * args.rounds} runs: {identical}")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
