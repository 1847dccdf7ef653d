"""The error a user can fix, and how the command line tells it apart from a bug.

:class:`UserError` is raised for anything the person running biocnn caused and can correct: a
wrong argument, a file in the wrong format, a run folder that is not a run, a full disk. The
command line (:func:`biocnn.cli.run_main`) prints it as one ``error:`` line and exits with code 2;
any other exception is a bug and keeps its traceback. It subclasses ``ValueError``, so code that
catches ``ValueError`` keeps working.

Example:
    >>> try:
    ...     raise UserError("--epochs must be positive, got 0.")
    ... except ValueError as error:
    ...     print(one_line(error))
    --epochs must be positive, got 0.
"""

import errno
import linecache
import os
import re

__all__ = ["OutputExistsError", "UserError", "embedded_user_error", "is_user_error", "one_line"]


class UserError(ValueError):
    """An error the user caused and can fix; shown as one line, without a traceback.

    Example:
        >>> isinstance(UserError("bad --out"), ValueError)
        True
    """


class OutputExistsError(UserError, FileExistsError):
    """An output is in the way (a previous run, a user's folder): a :class:`UserError` that is
    also a ``FileExistsError``.

    Example:
        >>> isinstance(OutputExistsError("run exists"), (ValueError, FileExistsError))
        True
    """


# OSErrors caused by the user's environment rather than by biocnn: a full disk, a quota, a
# read-only or missing folder, a path through a regular file, no permission.
_USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                errno.ENOENT, errno.EEXIST, errno.EISDIR, errno.ENAMETOOLONG}

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _raised_in(error, folders):
    # Raised by a `raise` statement in one of ``folders``: the last frame of the traceback is
    # there and its line is a raise (a ValueError from NumPy's C code called from biocnn has
    # biocnn's frame last too, but on the line of the call).
    tb = error.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = os.path.abspath(tb.tb_frame.f_code.co_filename)
    if not any(filename.startswith(folder + os.sep) for folder in folders):
        return False
    return linecache.getline(filename, tb.tb_lineno).lstrip().startswith("raise")


def is_user_error(error, own_code=()):
    """Whether ``error`` is for the user (one line) rather than a bug (traceback).

    A :class:`UserError` is; so is an ``OSError`` of the environment (disk full, no permission,
    a path through a regular file, a missing file); so is a ``ValueError`` raised by biocnn's
    own code (or by a folder in ``own_code``, e.g. the pipelines), which validates its inputs
    with ValueErrors. A ``ValueError`` raised inside TensorFlow, Keras or NumPy is a bug that
    biocnn failed to catch earlier: it keeps its traceback.

    Example:
        >>> is_user_error(UserError("x")), is_user_error(KeyError("x"))
        (True, False)
    """
    if isinstance(error, UserError):
        return True
    if isinstance(error, OSError):
        return (error.errno in _USER_ERRNOS or isinstance(error, (FileNotFoundError, FileExistsError))
                or _disk_full(error))
    if isinstance(error, ValueError):
        return _raised_in(error, (_PACKAGE, *(os.path.abspath(f) for f in own_code)))
    return False


def _disk_full(error):
    # h5py and zip writers report a full disk in the message only (errno None).
    text = str(error)
    return (getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in text
            or "Disk quota exceeded" in text or "errno = 28" in text)


def one_line(error):
    """The message of ``error`` as one line (a disk-full or permission error says what to do).

    Example:
        >>> one_line(OSError(28, "No space left on device", "/runs/a/model.keras"))
        "No space left on device while writing '/runs/a/model.keras': free some space or choose another --out."
    """
    if isinstance(error, OSError) and not isinstance(error, UserError) and error.errno is None and _disk_full(error):
        return "No space left on device while writing (" + " ".join(str(error).split())[:200] + \
            "): free some space or choose another --out."
    if isinstance(error, OSError) and not isinstance(error, UserError) and error.errno is not None:
        where = f" while writing '{error.filename}'" if error.filename else ""
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"{error.strerror}{where}: free some space or choose another --out."
        if error.errno == errno.ENOTDIR and error.filename:
            return (f"'{error.filename}' lies below a file that is not a folder ({error.strerror}); "
                    "choose another path.")
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and error.filename:
            return f"{error.strerror}: '{error.filename}'; choose a path you can write to."
        if error.filename:
            return f"{error.strerror}: '{error.filename}'."
    return str(error)


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ')
_RAISED = re.compile(r"^\s*((?:\w+\.)*(?:UserError|OutputExistsError|ValueError|FileNotFoundError)): (.+)$", re.M)


def embedded_user_error(error, own_code=()):
    """The message of a user error raised inside a ``tf.data`` pipeline, or None.

    An exception raised by Python code that TensorFlow runs (``tf.numpy_function`` reading a
    file while training streams it) reaches the caller as a TensorFlow error whose text holds
    the Python traceback. When that traceback ends in a ``raise`` of biocnn's own code (the
    rule of :func:`is_user_error`), e.g. a NaN voxel refused in a streamed volume, this returns
    the original message, for one ``error:`` line.

    Example:
        >>> embedded_user_error(RuntimeError("no traceback in here")) is None
        True
    """
    text = str(error)
    frames = list(_FRAME.finditer(text))
    if not frames:
        return None
    last = frames[-1]
    filename, line = os.path.abspath(last.group(1)), int(last.group(2))
    folders = (_PACKAGE, *(os.path.abspath(f) for f in own_code))
    if not any(filename.startswith(folder + os.sep) for folder in folders):
        return None
    if not linecache.getline(filename, line).lstrip().startswith("raise"):
        return None
    raised = _RAISED.search(text, last.end())
    return raised.group(2).strip() if raised else None
