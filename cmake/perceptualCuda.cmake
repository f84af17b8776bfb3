# Detects nvcc and cuDNN for the CUDA backend. When either is missing, PERCEPTUAL_CUDA is
# turned off with one message saying why, and everything else builds as before.
if(PERCEPTUAL_CUDA)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(STATUS "perceptual: CUDA backend off (no nvcc found)")
    set(PERCEPTUAL_CUDA OFF)
  else()
    find_package(CUDAToolkit QUIET)
    find_path(PERCEPTUAL_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT PATH_SUFFIXES include)
    find_library(PERCEPTUAL_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ENV CUDNN_ROOT PATH_SUFFIXES lib lib64)
    if(NOT CUDAToolkit_FOUND OR NOT PERCEPTUAL_CUDNN_INCLUDE_DIR OR NOT PERCEPTUAL_CUDNN_LIBRARY)
      message(STATUS "perceptual: CUDA backend off (CUDA toolkit or cuDNN not found; set CUDNN_ROOT)")
      set(PERCEPTUAL_CUDA OFF)
    else()
      enable_language(CUDA)
      message(STATUS "perceptual: CUDA backend on (cuDNN: ${PERCEPTUAL_CUDNN_LIBRARY})")
    endif()
  endif()
endif()

if(PERCEPTUAL_CUDA)
  find_package(CUDAToolkit REQUIRED)
  # PTX for compute 7.5 runs (JIT-compiled once) on every device from Turing on; set
  # -DPERCEPTUAL_CUDA_ARCHITECTURES=native (or 90) on a GPU machine for native code.
  set(PERCEPTUAL_CUDA_ARCHITECTURES "75-virtual" CACHE STRING "CUDA architectures for the CUDA tests and benchmarks")

  # Compiles `target`'s .cu files for the CUDA backend (C++20, the project's warnings, the chosen
  # architectures) and links CUDA's runtime, cuBLAS and cuDNN.
  function(perceptual_cuda_target target)
    set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${PERCEPTUAL_CUDA_ARCHITECTURES}")
    # -std=c++20 by hand: CMake 3.25 does not know nvcc 13's C++20 flag (CUDA_STANDARD 20 fails).
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 -Xcompiler=-Wall,-Wextra>)
    target_include_directories(${target} PRIVATE ${PERCEPTUAL_CUDNN_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE CUDA::cudart CUDA::cublas ${PERCEPTUAL_CUDNN_LIBRARY})
  endfunction()
endif()
