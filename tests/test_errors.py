"""One line for user errors, tracebacks for bugs (issue 18, item 7): biocnn.errors and cli.run_main."""

import errno
import os
import signal

import numpy as np
import pytest

from biocnn import cli, rundir
from biocnn.errors import UserError, is_user_error, one_line


def _run(main, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(main, [])
    return exit_info.value.code, capsys.readouterr().err


def test_a_user_error_is_one_line_with_exit_code_2(capsys):
    def main(argv):
        raise UserError("--labels-key 'y' is not in cells.npz; it holds: x, labels.")

    code, err = _run(main, capsys)
    assert code == 2 and err == "error: --labels-key 'y' is not in cells.npz; it holds: x, labels.\n"


def test_a_value_error_inside_numpy_is_a_bug_and_keeps_its_traceback(capsys):
    def main(argv):
        np.zeros(6).reshape(4, 4)  # biocnn failed to check something: a bug, not the user's

    with pytest.raises(ValueError, match="cannot reshape"):
        cli.run_main(main, [])
    assert "error:" not in capsys.readouterr().err


def test_a_bug_keeps_its_traceback():
    def main(argv):
        return {}["missing"]

    with pytest.raises(KeyError):
        cli.run_main(main, [])


def test_disk_full_is_one_line(capsys, tmp_path):
    def main(argv):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "model.keras"))

    code, err = _run(main, capsys)
    assert code == 2
    assert err == f"error: No space left on device while writing '{tmp_path / 'model.keras'}': free some space or choose another --out.\n"


def test_out_below_a_regular_file_is_one_line(capsys, tmp_path):
    (tmp_path / "results").write_text("")

    def main(argv):
        rundir.RunDirectory(tmp_path / "results" / "run1")

    code, err = _run(main, capsys)
    assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err


def test_a_run_that_fails_before_its_first_epoch_leaves_no_folder(capsys, tmp_path):
    def main(argv):
        run = rundir.RunDirectory(tmp_path / "new" / "run")
        run.write_json("config.json", {})
        run.folder("checkpoints")
        raise UserError("the test images have 3 channels, the training images 1")

    code, err = _run(main, capsys)
    assert code == 2 and "3 channels" in err
    assert not (tmp_path / "new" / "run").exists()  # the corrected rerun is not refused


def test_sigterm_is_handled_like_ctrl_c(capsys, tmp_path):
    def main(argv):
        run = rundir.RunDirectory(tmp_path / "run")
        run.write_json("config.json", {})
        os.kill(os.getpid(), signal.SIGTERM)

    code, err = _run(main, capsys)
    assert code == 130 and err.startswith("interrupted:")
    assert not (tmp_path / "run").exists()
    assert signal.getsignal(signal.SIGTERM) is not None


def test_is_user_error_and_one_line():
    assert is_user_error(UserError("x")) and is_user_error(PermissionError(errno.EACCES, "Permission denied", "/x"))
    assert not is_user_error(RuntimeError("x"))
    assert one_line(PermissionError(errno.EACCES, "Permission denied", "/x")) == (
        "Permission denied: '/x'; choose a path you can write to.")


def test_a_nan_volume_met_while_streaming_is_one_line(capsys):
    from biocnn.data.volume_datasets import volume_dataset
    from biocnn.data.volumes import ArrayVolumes

    volumes = np.zeros((3, 4, 4, 4), np.float32)
    volumes[2, 1, 1, 1] = np.nan

    def main(argv):
        for _ in volume_dataset(ArrayVolumes(volumes, name="ct.h5:images"), labels=[0, 1, 0], batch_size=1):
            pass  # training reads the batches as it goes: the NaN is met inside tf.data

    code, err = _run(main, capsys)
    assert code == 2
    assert err.startswith("error: ct.h5:images[2]: 1 of 64 voxels are NaN or infinite") and err.count("\n") == 1


def test_a_bug_inside_tf_data_keeps_its_traceback():
    import tensorflow as tf

    def broken(i):
        return np.zeros(6).reshape(4, 4)  # not a raise of biocnn's: a bug

    def main(argv):
        list(tf.data.Dataset.range(1).map(lambda i: tf.numpy_function(broken, [i], tf.float64)))

    with pytest.raises(tf.errors.InvalidArgumentError):
        cli.run_main(main, [])


def test_disk_full_reported_by_h5py_without_errno_is_one_line(capsys):
    def main(argv):  # what h5py raises when the disk fills while saving weights
        raise OSError("Can't write data (file write failed: time = Mon, errno = 28, error message = "
                      "'No space left on device', buf = 0x1, total write size = 4096)")

    code, err = _run(main, capsys)
    assert code == 2 and err.startswith("error: No space left on device while writing (Can't write data")
    assert err.rstrip().endswith("free some space or choose another --out.") and err.count("\n") == 1
