CUDA_ARCHES_DICT = {'nightly': ['12.6', '13.0', '13.2'], 'test': ['12.6', '13.0', '13.2'], 'release': ['12.6', '13.0', '13.2']}
ROCM_ARCHES_DICT = {'nightly': ['7.1', '7.2'], 'test': ['7.1', '7.2'], 'release': ['7.1', '7.2']}
CUDA_AARCH64_ARCHES_DICT = {'nightly': ['12.6-aarch64', '13.0-aarch64', '13.2-aarch64'], 'test': ['12.6-aarch64', '12.9-aarch64', '13.0-aarch64', '13.2-aarch64'], 'release': ['12.6-aarch64', '13.0-aarch64', '13.2-aarch64']}
TEST = 'test'
LINUX = 'linux'
LINUX_AARCH64 = 'linux-aarch64'
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str, os: str, build_python_only: bool, getting_started: bool=False):
    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    CUDA_AARCH64_ARCHES = CUDA_AARCH64_ARCHES_DICT[channel]
    if channel == TEST and os == LINUX:
        CUDA_ARCHES = CUDA_ARCHES + ['12.9']
    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
