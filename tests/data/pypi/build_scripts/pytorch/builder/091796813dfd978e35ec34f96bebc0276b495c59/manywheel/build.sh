if [[ -z "$CMAKE_ARGS" ]]; then
fi
if [[ -z "$EXTRA_CAFFE2_CMAKE_FLAGS" ]]; then
fi
if [[ -n "$DESIRED_CUDA" ]]; then
    if [[ ${#DESIRED_CUDA} -eq 4 ]]; then
    elif [[ ${#DESIRED_CUDA} -eq 5 ]]; then
    fi
else
fi
export TORCH_CUDA_ARCH_LIST="3.7+PTX;5.0"
if [[ $CUDA_VERSION == "9.0" ]]; then
    export TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST;6.0;7.0"
elif [[ $CUDA_VERSION == "9.2" ]]; then
    export TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST;6.0;6.1;7.0"
elif [[ $CUDA_VERSION == "10.0" ]]; then
    export TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST;6.0;6.1;7.0;7.5"
elif [[ $CUDA_VERSION == "10.1" ]]; then
    export TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST;6.0;6.1;7.0;7.5"
else
    exit 1
fi
if [[ -z "$PYTORCH_FINAL_PACKAGE_DIR" ]]; then
    if [[ -z "$BUILD_PYTHONLESS" ]]; then
    else
    fi
fi
if [[ "$OS_NAME" == *"CentOS Linux"* ]]; then
elif [[ "$OS_NAME" == *"Ubuntu"* ]]; then
fi
if [[ $CUDA_VERSION == "9.0" ]]; then
elif [[ $CUDA_VERSION == "9.2" ]]; then
elif [[ $CUDA_VERSION == "10.0" ]]; then
elif [[ $CUDA_VERSION == "10.1" ]]; then
else
    exit 1
fi
