"""What PyTorch runs with: version, threads, BLAS and backends (for the side-by-side benchmarks).

Shared by `runtime/torch_bench.py` and `methods/torch_recon_bench.py`; `runtime/torch_side.ts`
spawns them. Run alone (`python3 runtime/torch_info.py [THREADS]`), it prints the info as JSON.
"""
import json
import os
import re
import sys


def set_threads(threads):
    """Uses `threads` intra-op threads and one inter-op thread (as ptq-bench's onnxruntime sessions)."""
    import torch

    if threads and threads > 0:
        torch.set_num_threads(int(threads))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set, or work already ran


def _loaded_libraries():
    """Shared libraries of BLAS / LAPACK / oneDNN / OpenMP mapped into this process."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return []
    pat = re.compile(r"blas|lapack|mkl|dnnl|mkldnn|blis|gomp|iomp|omp", re.I)
    return sorted(p for p in paths if pat.search(p.rsplit("/", 1)[-1]))


def torch_info(threads=0):
    """Version, threads and the BLAS / backend summary, after setting `threads`."""
    import torch

    set_threads(threads)
    a = torch.randn(64, 64)
    (a @ a).sum().item()  # loads the BLAS library, so that it shows in the process's maps
    torch.nn.functional.conv2d(torch.randn(1, 4, 8, 8), torch.randn(4, 4, 3, 3)).sum().item()
    config = torch.__config__.show()
    keys = {}
    for k in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP", "TORCH_VERSION"):
        m = re.search(k + r"=([^,\s]+)", config)
        if m:
            keys[k] = m.group(1)
    mkldnn_line = next((l.strip(" -") for l in config.splitlines() if "MKL-DNN" in l), None)
    capability = next(
        (l.split(":", 1)[1].strip() for l in config.splitlines() if "CPU capability" in l), None
    )
    libs = _loaded_libraries()
    blas_lib = next((p for p in libs if re.search(r"blas|mkl_rt|blis", p, re.I)), None)
    if blas_lib and "openblas" in blas_lib.lower():
        blas = "OpenBLAS"
    elif blas_lib and "mkl" in blas_lib.lower():
        blas = "MKL"
    elif blas_lib and "blis" in blas_lib.lower():
        blas = "BLIS"
    elif blas_lib and "/blas/libblas.so" in blas_lib:
        blas = "reference BLAS (Debian's libblas3, generic libblas.so.3)"
    elif blas_lib:
        blas = "generic libblas.so.3 (" + blas_lib.rsplit("/", 1)[-1] + ")"
    else:
        blas = "MKL (linked in)" if torch.backends.mkl.is_available() else "none found"
    return {
        "python": sys.executable,
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "blas": blas,
        "blas_info": keys.get("BLAS_INFO"),
        "blas_library": blas_lib,
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "mkldnn_version": mkldnn_line,
        "openmp": torch.backends.openmp.is_available(),
        "cpu_capability": capability,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "libraries": libs,
    }


def serve(run):
    """Reads the JSON spec on stdin, answers `{"info", "rows"}` on stdout (or `{"error"}`, exit 1).

    `run(spec, log)` returns the rows; `log` writes a progress line to stderr.
    """
    def log(line):
        print(line, file=sys.stderr, flush=True)

    try:
        spec = json.loads(sys.stdin.read() or "{}")
    except ValueError as e:
        print(json.dumps({"error": f"bad spec on stdin: {e}"}))
        return 1
    try:
        import torch  # noqa: F401
    except Exception as e:  # ImportError, or a broken installation
        print(json.dumps({"error": f"import torch failed: {type(e).__name__}: {e}"}))
        return 3
    info = torch_info(spec.get("threads", 0))
    log(
        f"pytorch {info['version']}: {info['threads']} threads, BLAS {info['blas']}, "
        f"mkldnn {info['mkldnn']}"
    )
    try:
        rows = run(spec, log)
    except Exception as e:
        import traceback

        traceback.print_exc()
        print(json.dumps({"info": info, "error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps({"info": info, "rows": rows}))
    return 0


if __name__ == "__main__":
    try:
        import torch  # noqa: F401
    except Exception as e:
        print(json.dumps({"error": f"import torch failed: {type(e).__name__}: {e}"}))
        sys.exit(3)
    print(json.dumps(torch_info(int(sys.argv[1]) if len(sys.argv) > 1 else 0), indent=2))
