# The library's dependencies, found the same way by this project's build and by the installed
# package's config file: xtensor (CPU tensor), OpenBLAS through CBLAS (im2col GEMM),
# stb (image files, linked as Debian's libstb), nlohmann_json (safetensors headers).
include(CMakeFindDependencyMacro)
find_dependency(xtensor)
find_dependency(nlohmann_json)
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
