"""The fused C backend: kernels rendered as C loops, compiled with the system C compiler
into shared libraries (cached on disk by source hash and compiler), launched through a
small CPython extension (ctypes where it cannot be built)."""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fnad.backends.nvrtc import KernelCompileError
from fnad.core.cache import Cache
from fnad.core.ir import ClosedJaxpr, Eqn
from fnad.core.primitive import CLoop
from fnad.jit import codegen_c, fusion
from fnad.jit.fusion import describe, fuse, fusion_p
from fnad.jit.kernels import Kernel, argument_template, parameters, source_hash

# No FMA contraction: kernels round exactly as NumPy does (same key, same random numbers).
# Signed overflow wraps (-fwrapv), as NumPy's integers do. sin and cos are no builtins: gcc
# would merge the sin and cos of one value (any gradient of sin) into a call of sincos,
# which has no vector version, and leave the whole loop scalar (six times slower).
# -fno-trapping-math lets gcc compute both sides of a select (fnad.numpy.where, clamps)
# and blend them, as vector code must: with FP traps assumed it branched per element (a
# where over 1M random floats: 6-10 ms against 0.2 ms); no value changes, fnad never traps.
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off",
          "-fwrapv", "-fPIC", "-shared", "-fno-builtin-sin", "-fno-builtin-cos",
          "-fno-builtin-sinf", "-fno-builtin-cosf"]
# Kernels of more equations than this compile with `_LARGE_LEVEL` in place of -O3: on such
# kernels -O3's further passes nearly double gcc's time (a 10k-op gradient's kernels: 6.5
# -> 3.7 s of compiler CPU) and gained nothing measurable at run time, long bodies being
# bound by their math calls; the loop's few last elements run scalar, not in a second,
# narrower vector loop. Small kernels, the common ones, keep -O3.
LARGE = 128
_LARGE_LEVEL = ("-O1", "-ftree-loop-vectorize", "--param=vect-epilogues-nomask=0")


@functools.cache
def compiler() -> str | None:
    """The C compiler: $CC, else cc, gcc or clang on PATH; None when there is none."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def available() -> bool:
    return compiler() is not None


def cache_dir() -> str:
    """$FNAD_CACHE_DIR, else the user cache directory (XDG) under fnad/kernels."""
    root = os.environ.get("FNAD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "fnad")
    path = os.path.join(root, "kernels")
    os.makedirs(path, exist_ok=True)
    return path


def _links(cc: str, flags: Sequence[str], source: str, libs: Sequence[str] = ()) -> bool:
    """Whether `source` compiles with `flags` into a library that loads."""
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = os.path.join(tmp, "t.c"), os.path.join(tmp, "t.so")
        with open(src, "w") as f:
            f.write(source)
        if subprocess.run([cc, *flags, src, "-o", lib, *libs],
                          capture_output=True).returncode != 0:
            return False
        try:
            ctypes.CDLL(lib)
        except OSError:
            return False
        return True


def _mvec_probe() -> str:
    """A library calling every declared vector function in a vectorized loop."""
    loops = []
    for t, suffix in (("float", "f"), ("double", "")):
        for name in codegen_c.MVEC_UNARY + codegen_c.MVEC_BINARY:
            args = "a[i], a[i]" if name in codegen_c.MVEC_BINARY else "a[i]"
            loops.append(f"void p_{t}_{name}(long long k, {t}* restrict a) {{\n"
                         f"#pragma omp simd\nfor (long long i = 0; i < k; ++i) "
                         f"a[i] = {name}{suffix}({args});\n}}")
    return codegen_c.PRELUDE + "\n".join(loops)


@functools.cache
def _compiler_identity() -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The compiler's version line, flags and libraries, part of the cache key: OpenMP when
    it links, and glibc's vector math (libmvec) when its functions link."""
    cc = compiler()
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    flags, libs = list(_FLAGS), ["-lm"]
    if _links(cc, [*flags, "-fopenmp"],
              "#include <omp.h>\nint f(void) { return omp_get_max_threads(); }\n"):
        flags.append("-fopenmp")
        if _links(cc, [*flags, "-DFNAD_MVEC"], _mvec_probe(), ["-lmvec", "-lm"]):
            flags.append("-DFNAD_MVEC")
            libs.insert(0, "-lmvec")
    return version.splitlines()[0] if version else cc, tuple(flags), tuple(libs)


def _flags(kernel: Kernel) -> tuple[str, ...]:
    """The compiler flags for `kernel`, whose optimization level depends on its size."""
    flags = _compiler_identity()[1]
    if sum(op.prim != "literal" for op in kernel.ops) <= LARGE:
        return flags
    return (*_LARGE_LEVEL, *(f for f in flags if f != "-O3"))


def build(source: str, name: str, flags: Sequence[str]) -> ctypes.CDLL:
    """Compile `source` with `flags` (or reuse the cached library) and load it. A cached library that
    does not load (cut short by a crash or a full disk before it was written durably) is
    compiled again. The first load starts OpenMP, which then waits passively for work
    (unless OMP_WAIT_POLICY says otherwise): a team spinning after each kernel would take
    the cores NumPy's BLAS threads need."""
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    cc = compiler()
    if cc is None:
        raise KernelCompileError("no C compiler found (set CC); use backend='numpy'")
    libs = _compiler_identity()[2]
    path = _library_path(source, name, flags)
    if not os.path.exists(path):
        _compile(cc, flags, libs, source, path)
    try:
        return ctypes.CDLL(path)
    except OSError:  # "file too short", "invalid ELF header"...: a corrupted cache entry
        try:
            os.remove(path)
        except FileNotFoundError:
            pass  # another process removed it first
        _compile(cc, flags, libs, source, path)
        return ctypes.CDLL(path)


def _library_path(source: str, name: str, flags: Sequence[str]) -> str:
    """Where the library of `source` is cached: keyed by the source, the compiler and the
    flags."""
    identity, _, libs = _compiler_identity()
    return os.path.join(cache_dir(), f"{name}_{source_hash(source, identity, *flags, *libs)}.so")


def _compile(cc: str, flags: Sequence[str], libs: Sequence[str], source: str, path: str
             ) -> None:
    """Compile `source` into the library `path`."""
    errors = _finish(_start(cc, flags, libs, source, os.path.dirname(path)), [path])
    if errors is not None:
        raise KernelCompileError(f"the C compiler failed on a generated kernel:\n"
                                 f"{errors}\n--- source ---\n{source}")


def _start(cc: str, flags: Sequence[str], libs: Sequence[str], source: str, folder: str
           ) -> tuple[subprocess.Popen, str, str]:
    """Start compiling `source` (written to a temporary file in `folder`) into a library."""
    fd, tmp_c = tempfile.mkstemp(suffix=".c", dir=folder)
    with os.fdopen(fd, "w") as f:
        f.write(source)
    tmp_so = tmp_c[:-2] + ".so"
    return (subprocess.Popen([cc, *flags, tmp_c, "-o", tmp_so, *libs], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True), tmp_c, tmp_so)


def _finish(job: tuple[subprocess.Popen, str, str], paths: Sequence[str]) -> str | None:
    """Wait for a compile and, when it succeeded, give its library every name in `paths`;
    returns the compiler's errors when it failed. The library is flushed to disk before it
    is named, and each name is made atomically (a hard link, or a renamed copy), so a name
    always points to a whole library."""
    process, tmp_c, tmp_so = job
    try:
        errors = process.communicate()[1]
        if process.returncode != 0:
            return errors
        with open(tmp_so, "rb") as f:
            os.fsync(f.fileno())  # the data on disk before a name points to it
        for path in paths:
            try:
                os.link(tmp_so, path)
            except FileExistsError:
                pass  # built by another process meanwhile (a corrupt one: `build` removes it)
            except OSError:  # a file system without hard links
                shutil.copyfile(tmp_so, tmp_so + ".copy")
                os.replace(tmp_so + ".copy", path)
        return None
    finally:
        for p in (tmp_c, tmp_so):
            if os.path.exists(p):
                os.remove(p)


def build_all(kernels: Sequence[Kernel]) -> None:
    """Compile the kernels that are in neither cache, and load them all, before they first
    run: in a few compiler processes at once, one per core (and optimization level), each
    building one library of many kernels that every one of them is then cached under. A
    program of thousands of equations (cut into many kernels by fusion) then pays neither
    a compiler start per kernel nor one core for all. A batch that fails to compile is left
    to `build`, which reports the kernel at fault when it first runs."""
    cc = compiler()
    if cc is None:
        return
    libs = _compiler_identity()[2]
    found: dict[Kernel, tuple[str, str, str]] = {}  # kernel -> (name, source, library path)
    todo: dict[tuple[str, ...], dict[str, str]] = {}  # flags -> {library path: function}
    for kernel in kernels:
        if kernel in _COMPILED or kernel in found:
            continue
        name, flags = kernel.name(), _flags(kernel)
        function = codegen_c.function(kernel, name)
        path = _library_path(codegen_c.PRELUDE + function, name, flags)
        found[kernel] = (name, codegen_c.PRELUDE + function, path)
        if not os.path.exists(path):
            todo.setdefault(flags, {})[path] = function
    jobs = [(_start(cc, flags, libs, codegen_c.PRELUDE + "".join(map(functions.get, batch)),
                    cache_dir()), batch)
            for flags, functions in todo.items()
            for batch in _batches({p: len(f) for p, f in functions.items()},
                                  len(os.sched_getaffinity(0)))]
    for job, batch in jobs:
        _finish(job, batch)
    for kernel, (name, source, path) in found.items():
        if os.path.exists(path):
            _COMPILED.put(kernel, CompiledKernel(kernel, name, source))


def _batches(sizes: dict[str, int], n: int) -> list[list[str]]:
    """The keys of `sizes` in at most `n` lists of about equal total size (the largest
    first, each to the least loaded list)."""
    batches: list[list[str]] = [[] for _ in range(min(n, len(sizes)))]
    loads = [0] * len(batches)
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        i = loads.index(min(loads))
        batches[i].append(key)
        loads[i] += sizes[key]
    return batches


_CTYPE = {"long long": ctypes.c_int64}


# A CPython extension with one function, launch(kernel, arguments, slots, inputs, outputs):
# it copies `arguments` (the packed int64 values of a launch plan), writes the data pointers
# of the arrays into their `slots`, and calls the kernel's packed entry without the GIL. A
# ctypes call reads each array's address through `ndarray.ctypes`, 1-3 us apiece: most of
# a small kernel's launch.
_LAUNCH_SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

typedef void (*packed_kernel)(const long long *);

static int put(long long *a, Py_ssize_t n, PyObject *slots, Py_ssize_t k, PyObject *x) {
    Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(slots, k));
    if (PyErr_Occurred())
        return -1;
    if (slot < 0 || slot >= n) {
        PyErr_Format(PyExc_ValueError, "launch: slot %zd outside the %zd arguments", slot, n);
        return -1;
    }
    if (!PyArray_Check(x)) {
        PyErr_SetString(PyExc_TypeError, "launch: a NumPy array was expected");
        return -1;
    }
    a[slot] = (long long)(__INTPTR_TYPE__)PyArray_DATA((PyArrayObject *)x);
    return 0;
}

static PyObject *launch(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyBytes_Check(args[1]) || !PyTuple_Check(args[2])
            || !(PyList_Check(args[3]) || PyTuple_Check(args[3]))
            || !(PyList_Check(args[4]) || PyTuple_Check(args[4]))) {
        PyErr_SetString(PyExc_TypeError, "launch(kernel, arguments: bytes, slots: tuple, "
                        "inputs, outputs: list or tuple)");
        return NULL;
    }
    packed_kernel kernel = (packed_kernel)PyLong_AsVoidPtr(args[0]);
    if (kernel == NULL)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "null kernel");
    Py_ssize_t n = PyBytes_GET_SIZE(args[1]) / (Py_ssize_t)sizeof(long long);
    Py_ssize_t n_in = PySequence_Fast_GET_SIZE(args[3]), n_out = PySequence_Fast_GET_SIZE(args[4]);
    PyObject **ins = PySequence_Fast_ITEMS(args[3]), **outs = PySequence_Fast_ITEMS(args[4]);
    if (PyTuple_GET_SIZE(args[2]) != n_in + n_out)
        return PyErr_Format(PyExc_ValueError, "launch: %zd slots for %zd arrays",
                            PyTuple_GET_SIZE(args[2]), n_in + n_out);
    long long small[64], *a = n <= 64 ? small : PyMem_Malloc(n * sizeof(long long));
    if (a == NULL)
        return PyErr_NoMemory();
    memcpy(a, PyBytes_AS_STRING(args[1]), n * sizeof(long long));
    int bad = 0;
    for (Py_ssize_t k = 0; k < n_in && !bad; ++k)
        bad = put(a, n, args[2], k, ins[k]);
    for (Py_ssize_t k = 0; k < n_out && !bad; ++k)
        bad = put(a, n, args[2], n_in + k, outs[k]);
    if (!bad) {
        Py_BEGIN_ALLOW_THREADS
        kernel(a);
        Py_END_ALLOW_THREADS
    }
    if (a != small)
        PyMem_Free(a);
    if (bad)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"launch", (PyCFunction)(void (*)(void))launch, METH_FASTCALL, "Run a packed kernel."},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fnad_launch", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fnad_launch(void) {
    import_array();
    return PyModule_Create(&module);
}
"""


@functools.cache
def _launch_extension() -> Callable[..., None] | None:
    """The launch function of the extension above, compiled once into the kernel cache; None
    where it cannot be built (no Python or NumPy headers), and kernels go through ctypes."""
    import importlib.machinery
    import importlib.util
    import sys
    import sysconfig

    cc = compiler()
    includes = [sysconfig.get_paths()["include"], np.get_include()]
    if cc is None or not os.path.exists(os.path.join(includes[0], "Python.h")):
        return None
    flags = ["-O2", "-fPIC", "-shared", *(f"-I{d}" for d in includes)]
    if sys.platform == "darwin":
        flags += ["-undefined", "dynamic_lookup"]
    key = source_hash(_LAUNCH_SOURCE, _compiler_identity()[0], sys.version, np.__version__,
                      *flags)
    path = os.path.join(cache_dir(), f"_fnad_launch_{key}.so")

    def load() -> Any:
        loader = importlib.machinery.ExtensionFileLoader("_fnad_launch", path)
        module = importlib.util.module_from_spec(
            importlib.util.spec_from_file_location("_fnad_launch", path, loader=loader))
        loader.exec_module(module)
        return module.launch

    try:
        if os.path.exists(path):
            try:
                return load()
            except ImportError:  # a corrupted cache entry, as in `build`
                os.remove(path)
        _compile(cc, flags, [], _LAUNCH_SOURCE, path)
        return load()
    except (KernelCompileError, ImportError, OSError) as e:
        logging.getLogger("fnad.jit").debug("kernels launch through ctypes: %s", e)
        return None


class CompiledKernel:
    """A kernel loaded from its shared library, callable on NumPy arrays."""

    def __init__(self, kernel: Kernel, name: str, source: str):
        self.kernel, self.source = kernel, source
        library = build(source, name, _flags(kernel))
        self.fn = getattr(library, name)
        self.fn.argtypes = [_CTYPE.get(t, ctypes.c_void_p) for t, _ in parameters(kernel)]
        self.fn.restype = None
        self.packed = ctypes.cast(getattr(library, f"{name}_packed"), ctypes.c_void_p).value

    def __call__(self, shape: Sequence[int], inputs: Sequence[np.ndarray],
                 strides: Sequence[Sequence[int] | None], outputs: Sequence[np.ndarray]) -> None:
        """Run over the iteration space `shape` (output axes, then reduced axes).

        `strides[k]` gives, in elements, how input k moves along each axis of `shape`
        (0 for a broadcast axis); it is used for strided inputs only.
        """
        self.launcher(shape, strides)(inputs, outputs)

    def launcher(self, shape: Sequence[int], strides: Sequence[Sequence[int] | None]
                 ) -> Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], None]:
        """`launch(inputs, outputs)` (lists or tuples of NumPy arrays) for arrays of this
        plan's shapes and strides."""
        template, in_at, out_at = argument_template(self.kernel, shape, strides)
        at, fn = (*in_at, *out_at), self.fn
        fast = _launch_extension()
        if fast is not None:
            packed = np.array([0 if v is None else v for v in template], np.int64).tobytes()
            return functools.partial(fast, self.packed, packed, at)

        def launch(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> None:
            args = template.copy()
            for i, x in zip(at, (*inputs, *outputs)):
                args[i] = x.ctypes.data
            fn(*args)

        return launch


def compile_kernel(kernel: Kernel) -> CompiledKernel:
    """The compiled kernel, from memory, the disk cache, or the compiler."""
    def make() -> CompiledKernel:
        name = kernel.name()
        return CompiledKernel(kernel, name, codegen_c.render(kernel, name))

    return _COMPILED.get_or_make(kernel, make)


_COMPILED = Cache()



def _loop_nests(eqns: Sequence[Eqn]) -> dict[int, Callable[..., Any]]:
    """The compiled C loop nest of each equation whose primitive has one (`CLoop`) for its
    operands, by the equation's id, as a function of the operands. Sources in neither cache
    compile all at once, one compiler process each (a CNN has several); a source the
    compiler rejects leaves its equation to the impl."""
    lowered = {}
    for e in eqns:
        if type(e.prim.kernel) is CLoop:
            nest = e.prim.kernel.lower([a.aval for a in e.inputs], e.params)
            if nest is not None:
                lowered[id(e)] = nest
    _build_at_once({source: symbol for source, symbol, _ in lowered.values()
                    if source not in _LOOP_NESTS})
    nests = {}
    for key, (source, symbol, run) in lowered.items():
        fn = _LOOP_NESTS.get_or_make(source, functools.partial(_loop_function, source, symbol))
        if fn is not None:
            nests[key] = functools.partial(run, fn)
    return nests


def _build_at_once(symbols: dict[str, str]) -> None:
    """Compile the sources (source -> symbol) whose libraries are not cached on disk, in
    parallel; a failure is left to `build`, which reports it."""
    cc = compiler()
    if cc is None:
        return
    flags, libs = _compiler_identity()[1:]
    paths = {_library_path(source, symbol, flags): source for source, symbol in symbols.items()}
    jobs = [(_start(cc, flags, libs, source, cache_dir()), path)
            for path, source in paths.items() if not os.path.exists(path)]
    for job, path in jobs:
        _finish(job, [path])


def _loop_function(source: str, symbol: str) -> Callable[..., None] | None:
    """`fn(*addresses)` calling `symbol` of the compiled `source` (all its parameters are
    pointers); None when the compiler cannot build it."""
    try:
        fn = getattr(build(source, symbol, _compiler_identity()[1]), symbol)
    except KernelCompileError as e:
        logging.getLogger("fnad.jit").debug("loop nest %s not built: %s", symbol, e)
        return None
    fn.restype = None

    def call(*addresses: int) -> None:
        if fn.argtypes is None:
            fn.argtypes = [ctypes.c_void_p] * len(addresses)
        fn(*addresses)

    return call


_LOOP_NESTS = Cache()  # C source -> its compiled function (None: the compiler rejected it)


def lower(closed: ClosedJaxpr, donated: Sequence[bool], name: str,
          compile_sub: Callable[..., Any], loop: Any = None) -> Any:
    """Fuse elementwise regions into C kernels; lower the rest like the NumPy backend."""
    from fnad.backends import numpy_backend
    # through ctypes, where the launch extension cannot be built, a launch costs about 5x
    fused = fuse(closed, compile_kernel,
                 launch_us=None if _launch_extension() else 5 * fusion.LAUNCH_US)
    build_all([e.params["kernel"].expected([a.aval for a in e.inputs])
               for e in fused.eqns if e.prim is fusion_p])
    nests = _loop_nests(fused.eqns)
    lowered = numpy_backend.lower(fused, donated, name, compile_sub, loop=loop,
                                  native=lambda eqn: nests.get(id(eqn)))
    lowered.stats["fusion"] = describe(closed, fused, nests)
    return lowered
