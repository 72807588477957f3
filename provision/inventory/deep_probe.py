"""Run inside the inventoried Python by `dlws doctor --deep`: import one framework, list its devices, time a matmul.

Standalone on purpose (it runs in the user's interpreter, where dlws may not be installed): standard library only,
and it prints one JSON object on its last line whatever happens. The doctor passes this file's text to
`python -c`, so the command line (a snapshot's key for the run) does not depend on where dlws is installed.
Usage: python -c "$(cat deep_probe.py)" FRAMEWORK   (or: python deep_probe.py FRAMEWORK)
"""

import json
import sys
import time
import traceback

SIZE_GPU = 4096
SIZE_CPU = 512
REPEATS = 5


def _rate(seconds, size):
    return 2.0 * size ** 3 * REPEATS / seconds / 1e12 if seconds > 0 else None


def probe_torch():
    import torch

    out = {"version": torch.__version__, "cuda_build": torch.version.cuda, "devices": []}
    if torch.cuda.is_available():
        out["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        device, dtype, size = "cuda", torch.float16, SIZE_GPU
    else:
        device, dtype, size = "cpu", torch.float32, SIZE_CPU
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    (a @ b).sum().item()  # warm-up, and the first kernel launch ("no kernel image is available" shows here)
    start = time.perf_counter()
    for _ in range(REPEATS):
        c = a @ b
    c.sum().item()
    out.update(device=device, dtype=str(dtype).replace("torch.", ""), tflops=_rate(time.perf_counter() - start, size))
    return out


def probe_jax():
    import jax
    import jax.numpy as jnp

    devices = jax.devices()
    gpu = devices[0].platform in ("gpu", "cuda", "rocm")
    size, dtype = (SIZE_GPU, jnp.float16) if gpu else (SIZE_CPU, jnp.float32)
    key = jax.random.PRNGKey(0)
    a = jax.random.normal(key, (size, size), dtype=dtype)
    b = jax.random.normal(key, (size, size), dtype=dtype)
    matmul = jax.jit(lambda x, y: x @ y)
    matmul(a, b).block_until_ready()
    start = time.perf_counter()
    for _ in range(REPEATS):
        c = matmul(a, b)
    c.block_until_ready()
    return {"version": jax.__version__, "devices": [str(d) for d in devices] if gpu else [],
            "device": devices[0].platform, "dtype": str(jnp.dtype(dtype)),
            "tflops": _rate(time.perf_counter() - start, size)}


def probe_tensorflow():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    size, dtype, device = (SIZE_GPU, tf.float16, "/GPU:0") if gpus else (SIZE_CPU, tf.float32, "/CPU:0")
    with tf.device(device):
        a = tf.random.normal((size, size), dtype=dtype)
        b = tf.random.normal((size, size), dtype=dtype)
        tf.linalg.matmul(a, b).numpy()
        start = time.perf_counter()
        for _ in range(REPEATS):
            c = tf.linalg.matmul(a, b)
        c.numpy()
    return {"version": tf.__version__, "devices": [d.name for d in gpus], "device": "gpu" if gpus else "cpu",
            "dtype": dtype.name, "tflops": _rate(time.perf_counter() - start, size)}


PROBES = {"torch": probe_torch, "jax": probe_jax, "tensorflow": probe_tensorflow}


def main():
    if sys.path and sys.path[0] == "":  # -c puts the working directory first: a ./torch there must not shadow
        del sys.path[0]
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        result = {"ok": True, **PROBES[name]()}
    except Exception as exc:  # report whatever broke, the doctor turns it into a finding
        lines = traceback.format_exception_only(type(exc), exc)
        result = {"ok": False, "error": "".join(lines).strip()[-2000:]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
