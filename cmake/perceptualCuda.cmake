# Detects nvcc and cuDNN for the CUDA backend. PERCEPTUAL_CUDA is AUTO (the default: on when both
# are found, else off with one message saying why), ON (both are required: a missing one is a
# configuration error, so a GPU build never quietly comes out without its backend) or OFF. After
# this file, PERCEPTUAL_CUDA is ON or OFF.
set(PERCEPTUAL_CUDA AUTO CACHE STRING "Build the CUDA/cuDNN backend's tests and programs: AUTO (when nvcc and cuDNN are found), ON (required) or OFF")
set_property(CACHE PERCEPTUAL_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${PERCEPTUAL_CUDA}" perceptual_cuda_request)
if(perceptual_cuda_request STREQUAL "AUTO")
  set(perceptual_cuda_required FALSE)
elseif(PERCEPTUAL_CUDA)
  set(perceptual_cuda_required TRUE)
else()
  set(PERCEPTUAL_CUDA OFF)
endif()

# Says why the backend cannot be built: an error when it was required, else a status line.
macro(perceptual_cuda_unavailable why)
  if(perceptual_cuda_required)
    message(FATAL_ERROR "perceptual: PERCEPTUAL_CUDA=ON but ${why}")
  endif()
  message(STATUS "perceptual: CUDA backend off (${why})")
  set(PERCEPTUAL_CUDA OFF)
endmacro()

if(DEFINED perceptual_cuda_required)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    perceptual_cuda_unavailable("no nvcc was found")
  else()
    find_package(CUDAToolkit QUIET)
    find_path(PERCEPTUAL_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV CUDNN_ROOT PATH_SUFFIXES include)
    find_library(PERCEPTUAL_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ENV CUDNN_ROOT PATH_SUFFIXES lib lib64)
    if(NOT CUDAToolkit_FOUND)
      perceptual_cuda_unavailable("the CUDA toolkit was not found")
    elseif(NOT PERCEPTUAL_CUDNN_INCLUDE_DIR OR NOT PERCEPTUAL_CUDNN_LIBRARY)
      perceptual_cuda_unavailable("cuDNN was not found (set CUDNN_ROOT to the folder holding include/cudnn.h)")
    else()
      enable_language(CUDA)
      set(PERCEPTUAL_CUDA ON)
      message(STATUS "perceptual: CUDA backend on (cuDNN: ${PERCEPTUAL_CUDNN_LIBRARY})")
    endif()
  endif()
endif()

if(PERCEPTUAL_CUDA)
  find_package(CUDAToolkit REQUIRED)
  # Hopper machine code (the H100/H200 that scripts/device_bundle.sh builds for: no JIT at start)
  # and compute 7.5 PTX, which every device from Turing on JIT-compiles once.
  set(PERCEPTUAL_CUDA_ARCHITECTURES "75-virtual;90-real" CACHE STRING "CUDA architectures for the CUDA tests and programs")

  # Compiles `target`'s .cu files for the CUDA backend (C++20, the project's warnings, the chosen
  # architectures) and links cuBLAS, cuDNN and CUDA's runtime; the runtime statically, so a
  # program needs only the driver, cuBLAS and cuDNN where it runs (scripts/device_bundle.sh).
  # PUBLIC (perceptual_cuda_instances) passes cuDNN's headers and the three libraries on to
  # whatever links `target`.
  function(perceptual_cuda_target target)
    cmake_parse_arguments(arg "PUBLIC" "" "" ${ARGN})
    set(scope PRIVATE)
    if(arg_PUBLIC)
      set(scope PUBLIC)
    endif()
    set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${PERCEPTUAL_CUDA_ARCHITECTURES}")
    # -std=c++20 by hand: CMake 3.25 does not know nvcc 13's C++20 flag (CUDA_STANDARD 20 fails).
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 -Xcompiler=-Wall,-Wextra>)
    target_include_directories(${target} ${scope} ${PERCEPTUAL_CUDNN_INCLUDE_DIR})
    target_link_libraries(${target} ${scope} CUDA::cudart_static CUDA::cublas ${PERCEPTUAL_CUDNN_LIBRARY})
    # Only what a program calls is recorded as needed: a program that never convolves on the CPU
    # through oneDNN (40 MB) does not load it, and the GPU bundle need not carry it for that program.
    target_link_options(${target} PRIVATE LINKER:--as-needed)
  endfunction()

  # A program (or test) of ours on the CUDA backend compiled by the host compiler, as .cpp files:
  # the operations' declarations only (backend/cuda/cuda.hpp), their instances linked from
  # perceptual_cuda_instances (top-level CMakeLists.txt), which brings the CUDA libraries; with the
  # project's warnings and --as-needed as above. nvcc compiles instances.cu once instead of every
  # program's whole library (measured with nvcc alone: about 75 s per program, 155 s for cuda_tests).
  function(perceptual_cuda_program target)
    target_link_libraries(${target} PRIVATE perceptual_cuda_instances perceptual_warnings)
    target_link_options(${target} PRIVATE LINKER:--as-needed)
  endfunction()
endif()
