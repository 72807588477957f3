CUDA_ARCHES_DICT = {'nightly': ['11.8', '12.1', '12.4'], 'test': ['11.8', '12.1', '12.4'], 'release': ['11.8', '12.1']}
ROCM_ARCHES_DICT = {'nightly': ['6.0', '6.1'], 'test': ['6.0', '6.1'], 'release': ['5.7', '6.0']}
LINUX_AARCH64 = 'linux-aarch64'
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str, build_python_only: bool):
    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
