if [[ -z "$CMAKE_ARGS" ]]; then
fi
if [[ -z "$EXTRA_CAFFE2_CMAKE_FLAGS" ]]; then
fi
if [[ -n "$DESIRED_CUDA" ]]; then
    if [[ ${DESIRED_CUDA} =~ ^[0-9]+\.[0-9]+$ ]]; then
    else
        if [[ ${#DESIRED_CUDA} -eq 4 ]]; then
        elif [[ ${#DESIRED_CUDA} -eq 5 ]]; then
        fi
    fi
    if [[ "$OS_NAME" == *"Ubuntu"* ]]; then
    fi
else
fi
TORCH_CUDA_ARCH_LIST="5.0;6.0;7.0;7.5;8.0;8.6"
case ${CUDA_VERSION} in
    12.1)
        TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST};9.0"
        ;;
    11.8)
        TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST};3.7;9.0"
        ;;
    11.[67])
        TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST};3.7"
        ;;
    *)
        exit 1
        ;;
esac
if [[ -n "$OVERRIDE_TORCH_CUDA_ARCH_LIST" ]]; then
    TORCH_CUDA_ARCH_LIST="$OVERRIDE_TORCH_CUDA_ARCH_LIST"
fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST}
if [[ -z "$PYTORCH_FINAL_PACKAGE_DIR" ]]; then
    if [[ -z "$BUILD_PYTHONLESS" ]]; then
    else
    fi
fi
if [[ "$OS_NAME" == *"CentOS Linux"* ]]; then
elif [[ "$OS_NAME" == *"Ubuntu"* ]]; then
fi
if [[ $USE_CUSPARSELT == "1" ]]; then
fi
if [[ $CUDA_VERSION == "12.1" ]]; then
    if [[ -z "$PYTORCH_EXTRA_INSTALL_REQUIREMENTS" ]]; then
    else
    fi
elif [[ $CUDA_VERSION == "11.8" ]]; then
    if [[ -z "$PYTORCH_EXTRA_INSTALL_REQUIREMENTS" ]]; then
    else
    fi
else
    exit 1
fi
if [[ -z "$BUILD_PYTHONLESS" ]]; then
else
fi
