"""Build cnnscore's one compiled module, the 2D read-tensor encoder, against the pysam installed
in the build environment (its .pxd files and htslib headers). The module reads pysam's records
directly, so it must run with the pysam it was compiled against: the version is compiled in and
checked at import (cnnscore.encode.compiled). Everything else is in pyproject.toml."""

import pysam
from Cython.Build import cythonize
from setuptools import Extension, setup

pileup = Extension(
    "cnnscore.encode._pileup",
    ["cnnscore/encode/_pileup.pyx"],
    include_dirs=pysam.get_include(),
    define_macros=[("CNNSCORE_PYSAM_VERSION", f'"{pysam.__version__}"')],
    extra_compile_args=["-O2"],
)
setup(ext_modules=cythonize([pileup], compiler_directives={"language_level": "3"}, quiet=True))
