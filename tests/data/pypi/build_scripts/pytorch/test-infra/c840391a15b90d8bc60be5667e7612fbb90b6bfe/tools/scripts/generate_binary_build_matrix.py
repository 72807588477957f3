CUDA_ARCHES_DICT = {'nightly': ['12.6', '13.0', '13.2'], 'test': ['12.6', '13.0', '13.2'], 'release': ['12.6', '13.0', '13.2']}
ROCM_ARCHES_DICT = {'nightly': ['7.2', '7.14'], 'test': ['7.2', '7.14'], 'release': ['7.1', '7.2']}
CUDA_ARCHES_NO_WINDOWS = []
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str, os: str, build_python_only: bool, getting_started: bool=False):
    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
