CUDA_ARCHES_DICT = {'nightly': ['11.8', '12.4', '12.6'], 'test': ['11.8', '12.4', '12.6'], 'release': ['11.8', '12.1', '12.4']}
ROCM_ARCHES_DICT = {'nightly': ['6.1', '6.2.4'], 'test': ['6.1', '6.2.4'], 'release': ['6.1', '6.2']}
LINUX_AARCH64 = 'linux-aarch64'
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str, build_python_only: bool):
    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
