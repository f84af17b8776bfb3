# The library's dependencies, found the same way by this project's build and by the installed
# package's config file: OpenBLAS through CBLAS (im2col GEMM), oneDNN (float convolutions),
# OpenMP where the compiler has it (the CPU backend's own loops, on the threads oneDNN runs on),
# stb (image files, linked as Debian's libstb), libpng and libjpeg (images read and written a row
# at a time: io/stream_image.hpp), nlohmann_json (safetensors headers).
include(CMakeFindDependencyMacro)
find_dependency(nlohmann_json)
# CMake's own FindPNG and FindJPEG (targets PNG::PNG, JPEG::JPEG), with the Debian packages named
# when either is missing (find_dependency would end this file quietly, and the link then fail on
# an unknown target).
find_package(PNG QUIET)
find_package(JPEG QUIET)
if(NOT PNG_FOUND OR NOT JPEG_FOUND)
  message(FATAL_ERROR "perceptual: libpng or libjpeg was not found; install Debian's libpng-dev and "
                      "libjpeg62-turbo-dev (scripts/install_deps.sh does it)")
endif()
set(BLA_VENDOR OpenBLAS)
find_dependency(BLAS)
if(NOT TARGET perceptual::stb)
  find_path(PERCEPTUAL_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
  find_library(PERCEPTUAL_STB_LIBRARY stb)
  if(NOT PERCEPTUAL_STB_INCLUDE_DIR OR NOT PERCEPTUAL_STB_LIBRARY)
    message(FATAL_ERROR "perceptual: stb_image was not found; install Debian's libstb-dev "
                        "(scripts/install_deps.sh does it)")
  endif()
  add_library(perceptual::stb INTERFACE IMPORTED)
  set_target_properties(perceptual::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${PERCEPTUAL_STB_INCLUDE_DIR}"
                                                   INTERFACE_LINK_LIBRARIES "${PERCEPTUAL_STB_LIBRARY}")
endif()
# oneDNN by hand rather than its dnnl-config.cmake: Debian's is built with the OpenCL GPU runtime,
# and that config then requires the OpenCL headers, which the CPU route never uses.
if(NOT TARGET perceptual::dnnl)
  find_path(PERCEPTUAL_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(PERCEPTUAL_DNNL_LIBRARY dnnl)
  if(NOT PERCEPTUAL_DNNL_INCLUDE_DIR OR NOT PERCEPTUAL_DNNL_LIBRARY)
    message(FATAL_ERROR "perceptual: oneDNN was not found; install Debian's libdnnl-dev "
                        "(scripts/install_deps.sh does it)")
  endif()
  add_library(perceptual::dnnl INTERFACE IMPORTED)
  set_target_properties(perceptual::dnnl PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${PERCEPTUAL_DNNL_INCLUDE_DIR}"
                                                    INTERFACE_LINK_LIBRARIES "${PERCEPTUAL_DNNL_LIBRARY}")
endif()
# OpenMP through a target of our own, empty where the compiler has none (the fuzzers' clang):
# the loops then run on the calling thread (backend/cpu/parallel.hpp). find_dependency would end
# this file at the first package it misses.
if(NOT TARGET perceptual::openmp)
  find_package(OpenMP QUIET COMPONENTS CXX)
  add_library(perceptual::openmp INTERFACE IMPORTED)
  if(OpenMP_CXX_FOUND)
    set_target_properties(perceptual::openmp PROPERTIES INTERFACE_LINK_LIBRARIES OpenMP::OpenMP_CXX)
  endif()
endif()
