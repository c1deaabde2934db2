"""Internal utilities with no knowledge of the model: validation of arguments, random keys, the
float64 scope, memory estimates, parsing of grids, BLAS threads and data paths.

Every subpackage may use these; nothing here imports the rest of the library.
"""
