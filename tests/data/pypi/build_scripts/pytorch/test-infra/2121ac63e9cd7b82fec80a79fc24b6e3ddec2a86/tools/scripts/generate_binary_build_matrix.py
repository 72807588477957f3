CUDA_ARCHES_DICT = {'nightly': ['12.6', '12.8', '13.0'], 'test': ['12.6', '12.8', '13.0'], 'release': ['12.6', '12.8', '13.0']}
ROCM_ARCHES_DICT = {'nightly': ['7.1', '7.2'], 'test': ['7.1', '7.2'], 'release': ['7.0', '7.1']}
CUDA_AARCH64_ARCHES = ['12.6-aarch64', '12.8-aarch64', '13.0-aarch64']
LINUX = 'linux'
LINUX_AARCH64 = 'linux-aarch64'
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str, os: str, build_python_only: bool, getting_started: bool=False):
    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    if channel != 'release' and (os == LINUX or os == LINUX_AARCH64) and (not getting_started):
        CUDA_ARCHES.append('12.9')
        CUDA_AARCH64_ARCHES.append('12.9-aarch64')
    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
