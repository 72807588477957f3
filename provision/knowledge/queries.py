"""Typed questions over the knowledge tables (cuda, frameworks, distributions), including the exact pins and
package index the setup planner installs from, asked as ``queries.NAME``. Each topic has a module of its own:

* cuda_drivers: CUDA toolkits, NVIDIA drivers and the compute capabilities nvcc builds for;
* frameworks: framework releases, the GPUs a torch build supports, Python wheels, AVX, retirement;
* distributions: distribution releases, their end of support and how dlws setup provisions them;
* pins: the exact pins, requirements and index of a build, JAX's CUDA extras, Keras 3 and Keras 2;
* rocm: the gfx targets of ROCm releases and of torch's ROCm wheels;
* jetpack: what an L4T release brings and NVIDIA's JetPack-matched wheels for it;
* error_signatures: error texts users paste, their causes and the checks that confirm them (doctor --error);
* cudnn: cuDNN releases, the CUDA builds of each, their minimum driver and the GPUs they support;
* extensions: where torch.utils.cpp_extension finds the CUDA toolkit and what it checks of it;

and versions reads the versions a machine reports for all of them. Every function is pure and total: bad or unknown
input answers None (or an empty list), never an exception, because doctor rules feed them whatever a broken machine
reported.
"""

from __future__ import annotations

from provision.knowledge.cuda_drivers import (min_driver_for_cuda, minor_compat_floor, max_cuda_for_driver,
                                              cuda_supports_cc, has_minor_version_compatibility,
                                              legacy_driver_branch, branch_of, driver_branch_support,
                                              current_driver_branches)
from provision.knowledge.distributions import (distribution, distribution_eol, setup_family, package_manager,
                                               rosetta_avx_from,
                                               provisionable, driver_module_streams, cuda_repo_folder, support_end)
from provision.knowledge.frameworks import (normalize_framework, framework_release, torch_release, torch_arch_list,
                                            torch_kernels_for_cc, torch_variant_supports_cc, display_name,
                                            retirement, needs_avx,
                                            python_supported, wheel_platform, wheel_pythons, glibc_floor,
                                            cuda_wheels, variant_platforms)
from provision.knowledge.frameworks import (cuda_wheels_entry, macos_floor, mps_floor, stack_version,
                                            variants_newest_first)
from provision.knowledge.pins import (framework_pins, pip_requirements, pip_index_url, jax_cuda_extras, keras_info,
                                      keras_pins, keras_backend, keras2_for_tensorflow, tf_keras_for_tensorflow,
                                      local_label, installable)
from provision.knowledge.jetpack import (generic_cuda_wheels, jetpack_built_for, jetpack_label, jetpack_release,
                                         jetpack_wheel, system_libraries)
from provision.knowledge.rocm import gfx_generic_family, rocm_release_gfx_targets, torch_rocm_gfx_targets
from provision.knowledge.error_signatures import error_signatures
from provision.knowledge.extensions import torch_cuda_home_order, torch_extension_cuda_check
from provision.knowledge.cudnn import cudnn_build, cudnn_cuda_majors, cudnn_min_driver, cudnn_release, cudnn_supports_cc
from provision.knowledge.versions import Row

__all__ = [
    "cuda_repo_folder", "cuda_supports_cc", "cuda_wheels", "glibc_floor", "wheel_platform", "wheel_pythons", "display_name", "distribution", "distribution_eol",
    "driver_module_streams", "framework_pins",
    "framework_release", "installable", "jax_cuda_extras", "keras_backend", "keras_info", "keras_pins", "keras2_for_tensorflow",
    "tf_keras_for_tensorflow", "local_label", "max_cuda_for_driver",
    "min_driver_for_cuda", "minor_compat_floor", "has_minor_version_compatibility", "legacy_driver_branch",
    "branch_of", "driver_branch_support", "current_driver_branches",
    "needs_avx", "normalize_framework", "package_manager",
    "pip_index_url", "pip_requirements", "provisionable", "python_supported", "retirement", "rosetta_avx_from",
    "setup_family",
    "support_end",
    "torch_arch_list", "torch_kernels_for_cc", "torch_release", "torch_variant_supports_cc", "Row", "variant_platforms",
    "rocm_release_gfx_targets", "torch_rocm_gfx_targets", "gfx_generic_family",
    "generic_cuda_wheels", "jetpack_built_for", "jetpack_label", "jetpack_release", "jetpack_wheel",
    "system_libraries",
    "error_signatures",
    "torch_cuda_home_order", "torch_extension_cuda_check",
    "cudnn_build", "cudnn_cuda_majors", "cudnn_min_driver", "cudnn_release", "cudnn_supports_cc",
    "cuda_wheels_entry", "macos_floor", "mps_floor", "stack_version", "variants_newest_first",
]
