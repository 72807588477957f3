mod = sys.modules[__name__]
CUDA_ARCHES_DICT = {'nightly': ['11.8', '12.1'], 'test': ['11.8', '12.1'], 'release': ['11.7', '11.8']}
ROCM_ARCHES_DICT = {'nightly': ['5.5', '5.6'], 'test': ['5.5', '5.6'], 'release': ['5.3', '5.4.2']}
LINUX_AARCH64 = 'linux-aarch64'
DOWNLOAD_URL_BASE = 'https://download.pytorch.org'
def initialize_globals(channel: str):
    mod.CUDA_ARCHES = CUDA_ARCHES_DICT[channel]
    mod.ROCM_ARCHES = ROCM_ARCHES_DICT[channel]
