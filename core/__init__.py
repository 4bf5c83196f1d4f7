"""GRU Lab's machine learning: data, text, model, training, saved runs.

Nothing here imports streamlit, so everything can be tested, benchmarked and
run from the command line. Importing the package sets TensorFlow's thread pools
before TensorFlow starts (see `core.runtime`).
"""

from core import runtime

runtime.configure_environment()
