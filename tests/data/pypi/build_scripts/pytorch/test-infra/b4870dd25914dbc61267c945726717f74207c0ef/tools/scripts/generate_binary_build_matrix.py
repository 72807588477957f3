CUDA_ARCHES_DICT = {'nightly': ['11.8', '12.6', '12.8'], 'test': ['11.8', '12.6', '12.8'], 'release': ['11.8', '12.4', '12.6']}
ROCM_ARCHES_DICT = {'nightly': ['6.2.4', '6.3'], 'test': ['6.2.4', '6.3'], 'release': ['6.1', '6.2.4']}
CUDA_AARCH64_ARCHES = ['12.8-aarch64']
LINUX_AARCH64 = 'linux-aarch64'
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str, build_python_only: bool):
    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
