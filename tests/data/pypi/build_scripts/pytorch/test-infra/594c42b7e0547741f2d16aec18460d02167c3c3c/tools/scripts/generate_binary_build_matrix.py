mod = sys.modules[__name__]
CUDA_ARCHES_DICT = {'nightly': ['11.8', '12.1'], 'test': ['11.8', '12.1'], 'release': ['11.8', '12.1']}
ROCM_ARCHES_DICT = {'nightly': ['5.6', '5.7'], 'test': ['5.6', '5.7'], 'release': ['5.6', '5.7']}
LINUX_AARCH64 = 'linux-aarch64'
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str):
    mod.CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    mod.ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
